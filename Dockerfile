# twitchcheck: the bot as one image. Dependencies are installed at build time with the
# versions pinned in constraints.txt; nothing is downloaded when the container runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY content ./content
COPY migrations ./migrations
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent twitchcheck

# The health server listens on every interface inside the container (loopback elsewhere).
ENV HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
EXPOSE 8080
USER twitchcheck

# Exec form: twitchcheck is PID 1 and gets SIGTERM itself (graceful shutdown).
ENTRYPOINT ["twitchcheck"]
CMD ["run"]
