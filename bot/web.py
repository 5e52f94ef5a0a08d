"""The bot's own HTTP server: the webhook, liveness, readiness and metrics (starlette).

- `POST /telegram` (webhook mode only): the secret header is compared in constant time (401
  and nothing read otherwise), bodies over `MAX_UPDATE_BYTES` get 413, anything but a JSON
  object with an integer `update_id` gets 400; a good update is answered 200 only after the
  receiver stored it durably — never after the slow work, so Telegram (which resends on any
  non-2xx) neither duplicates nor piles up updates. A receiver failure is 500: Telegram
  retries it later.
- `GET /healthz`: the process answers (liveness).
- `GET /readyz`: 200 when ready, else 503 with the problems (database, schema, content, Bot
  API, shutting down) as JSON — for a load balancer or an orchestrator.
- `GET /metrics`: Prometheus text format (`bot.metrics`).

No request path, header or body is logged (uvicorn's access log is off).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.config import WEBHOOK_PATH
from bot.metrics import Metrics
from bot.services.health import Readiness

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_UPDATE_BYTES = 1024 * 1024
"""Telegram's updates are a few kB (a 4096-character message with entities stays far below
this); anything bigger is not an update and is refused before it is read whole."""


class UpdateReceiver(Protocol):
    """Where the webhook hands a raw update: durably stored when `receive` returns."""

    async def receive(self, raw_update: Mapping[str, Any]) -> None: ...


ReadinessCheck = Callable[[], Awaitable[Readiness]]


def is_update(value: object) -> bool:
    """A JSON object with an integer update_id: the least every Telegram update has."""
    if not isinstance(value, dict):
        return False
    update_id = value.get("update_id")
    return isinstance(update_id, int) and not isinstance(update_id, bool) and update_id >= 0


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is longer than `limit` (a lying or missing
    Content-Length does not get past this)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def webhook_route(secret: str, receiver: UpdateReceiver) -> Route:
    expected = secret.encode()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("unauthorized", status_code=401)
        body = await read_limited(request, MAX_UPDATE_BYTES)
        if body is None:
            return PlainTextResponse("update too large", status_code=413)
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("not JSON", status_code=400)
        if not is_update(raw):
            return PlainTextResponse("not a Telegram update", status_code=400)
        try:
            await receiver.receive(raw)
        except Exception as error:  # not stored: Telegram must send it again
            log.error("update %s not stored (%s)", raw["update_id"], type(error).__name__)
            return PlainTextResponse("not stored, try again", status_code=500)
        return Response(status_code=200)

    return Route(WEBHOOK_PATH, telegram, methods=["POST"])


def build_web_app(
    *,
    metrics: Metrics,
    readiness: ReadinessCheck,
    webhook: tuple[str, UpdateReceiver] | None = None,
) -> Starlette:
    """The routes; `webhook` = (secret, receiver) adds POST /telegram."""

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        result = await readiness()
        body = {"ready": result.ready, "problems": list(result.problems)}
        return JSONResponse(body, status_code=200 if result.ready else 503)

    async def metrics_route(_request: Request) -> Response:
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    if webhook is not None:
        routes.append(webhook_route(*webhook))
    return Starlette(routes=routes)
