"""The bot's HTTP routes (bot.web) through ASGI: webhook checks, health, readiness, metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.services.health import Readiness
from bot.web import MAX_UPDATE_BYTES, SECRET_HEADER, build_web_app

SECRET = "s3cret-Token_value"
UPDATE = {"update_id": 12, "message": {"message_id": 1, "text": "hello"}}


class Receiver:
    def __init__(self, *, fail: bool = False) -> None:
        self.received: list[Mapping[str, Any]] = []
        self.fail = fail

    async def receive(self, raw_update: Mapping[str, Any]) -> None:
        if self.fail:
            raise OSError("database away")
        self.received.append(raw_update)


def client(receiver: Receiver, readiness: Readiness | None = None) -> httpx.AsyncClient:
    async def ready() -> Readiness:
        return readiness or Readiness(())

    app = build_web_app(metrics=Metrics(), readiness=ready, webhook=(SECRET, receiver))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}])
async def test_a_missing_or_wrong_secret_is_401_and_nothing_is_received(
    headers: dict[str, str],
) -> None:
    receiver = Receiver()
    async with client(receiver) as http:
        response = await http.post("/telegram", json=UPDATE, headers=headers)
    assert response.status_code == 401
    assert receiver.received == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "12"}',
        b'{"update_id": true}',
        b'{"update_id": -1}',
        "ü".encode("latin-1"),
    ],
)
async def test_a_malformed_body_is_400(body: bytes) -> None:
    receiver = Receiver()
    async with client(receiver) as http:
        response = await http.post("/telegram", content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400
    assert receiver.received == []


async def test_an_oversized_body_is_refused_even_without_a_length() -> None:
    receiver = Receiver()
    big = json.dumps({"update_id": 1, "padding": "x" * MAX_UPDATE_BYTES}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    async with client(receiver) as http:
        declared = await http.post("/telegram", content=big, headers={SECRET_HEADER: SECRET})
        streamed = await http.post("/telegram", content=chunks(), headers={SECRET_HEADER: SECRET})
    assert declared.status_code == streamed.status_code == 413
    assert receiver.received == []


async def test_a_good_update_is_200_after_it_was_received() -> None:
    receiver = Receiver()
    async with client(receiver) as http:
        response = await http.post("/telegram", json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    assert receiver.received == [UPDATE]


async def test_an_update_that_could_not_be_stored_is_500_so_telegram_resends_it() -> None:
    async with client(Receiver(fail=True)) as http:
        response = await http.post("/telegram", json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 500


async def test_health_readiness_and_metrics() -> None:
    async with client(Receiver()) as http:
        assert (await http.get("/healthz")).text == "ok"
        ready = await http.get("/readyz")
        metrics = await http.get("/metrics")
        assert (await http.get("/telegram")).status_code == 405
    assert ready.status_code == 200 and ready.json() == {"ready": True, "problems": []}
    assert metrics.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(metrics.text)}
    assert {"twitchcheck_updates", "twitchcheck_handler_seconds", "twitchcheck_sends"} <= names
    async with client(Receiver(), Readiness(("the database does not answer",))) as http:
        not_ready = await http.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["problems"] == ["the database does not answer"]


async def test_without_webhook_mode_there_is_no_telegram_route() -> None:
    async def ready() -> Readiness:
        return Readiness(())

    app = build_web_app(metrics=Metrics(), readiness=ready)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bot"
    ) as http:
        response = await http.post("/telegram", json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 404
