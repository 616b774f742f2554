"""Bad input never reaches the conversation: a 4xx with a JSON reason, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agent.main import create_app
from agent.settings import AgentSettings, DatabaseSettings, RedisSettings, WhatsAppSettings
from agent.whatsapp import sign

SECRET = "webhook-secret"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # Dependencies point at closed ports: these requests must be refused before any is used.
    settings = AgentSettings(
        redis=RedisSettings(url="redis://127.0.0.1:9/0"),
        database=DatabaseSettings(dsn=SecretStr("postgresql://postgres@127.0.0.1:9/x")),
        whatsapp=WhatsAppSettings(app_secret=SecretStr(SECRET), verify_token=SecretStr("vt")),
    )
    settings.audit.fallback_path = tmp_path_factory.mktemp("audit") / "fallback.jsonl"
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def assert_reason(response, status: int, error: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hola"}, "guest_id"),
        ({"guest_id": "g", "text": ""}, "text"),
        ({"guest_id": "g", "text": "   "}, "text"),
        ({"guest_id": "g", "text": "x" * 4097}, "text"),
        ({"guest_id": "has space", "text": "hola"}, "guest_id"),
        ({"guest_id": "g", "text": "hola", "language": "pt"}, "language"),
        ({"guest_id": "g", "text": "hola", "channel": "pigeon"}, "channel"),
        ({"guest_id": "g", "text": "hola", "surprise": 1}, "surprise"),
        ({"guest_id": "g", "text": 42}, "text"),
    ],
)
def test_invalid_message_fields_get_422_naming_the_field(
    client: TestClient, body: dict, field: str
) -> None:
    r = client.post("/api/v1/messages", json=body)
    assert_reason(r, 422, "invalid_request")
    assert any(field in d["loc"] for d in r.json()["detail"])


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(
        "/api/v1/messages",
        content=b'{"guest_id": "g", "text": ',
        headers={"content-type": "application/json"},
    )
    assert_reason(r, 400, "malformed_json")


def test_non_json_is_415(client: TestClient) -> None:
    r = client.post(
        "/api/v1/messages",
        content=b"guest_id=g&text=hola",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_reason(r, 415, "unsupported_media_type")


def test_oversized_body_is_413_declared_or_streamed(client: TestClient) -> None:
    big = json.dumps({"guest_id": "g", "text": "x" * 70_000}).encode()
    r = client.post("/api/v1/messages", content=big, headers={"content-type": "application/json"})
    assert_reason(r, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    r = client.post(
        "/api/v1/messages", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_reason(r, 413, "payload_too_large")


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert_reason(client.get("/api/v1/nope"), 404, "not_found")
    assert_reason(client.get("/api/v1/messages"), 405, "method_not_allowed")


def whatsapp_post(
    client: TestClient,
    payload: bytes,
    signature: str | None,
    content_type: str = "application/json",
):  # type: ignore[no-untyped-def]
    headers = {"content-type": content_type}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return client.post("/webhooks/whatsapp", content=payload, headers=headers)


def test_webhook_signature_is_required_and_checked(client: TestClient) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    assert_reason(whatsapp_post(client, body, None), 401, "invalid_signature")
    assert_reason(whatsapp_post(client, body, sign("wrong", body)), 401, "invalid_signature")
    assert_reason(whatsapp_post(client, body, "sha256=" + "0" * 64), 401, "invalid_signature")
    ok = whatsapp_post(client, body, sign(SECRET, body))
    assert ok.status_code == 200 and ok.json() == {
        "status": "ok",
        "processed": 0,
        "duplicates": 0,
        "statuses": 0,
    }


def test_webhook_bad_payloads(client: TestClient) -> None:
    bad_shape = json.dumps({"object": "page", "entry": []}).encode()
    assert_reason(
        whatsapp_post(client, bad_shape, sign(SECRET, bad_shape)), 400, "malformed_payload"
    )
    torn = b'{"object": "whatsapp_business_account", "entry": ['
    assert_reason(whatsapp_post(client, torn, sign(SECRET, torn)), 400, "malformed_json")
    assert_reason(
        whatsapp_post(client, b"hi", sign(SECRET, b"hi"), "text/plain"),
        415,
        "unsupported_media_type",
    )
    huge = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (257 * 1024) + b'"}'
    assert_reason(whatsapp_post(client, huge, sign(SECRET, huge)), 413, "payload_too_large")


def test_webhook_handshake(client: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "12345"}
    r = client.get("/webhooks/whatsapp", params=params)
    assert r.status_code == 200 and r.text == "12345"
    r = client.get("/webhooks/whatsapp", params={**params, "hub.verify_token": "nope"})
    assert_reason(r, 403, "verification_failed")


def test_metrics_use_route_templates_not_raw_paths(client: TestClient) -> None:
    client.get("/api/v1/nope/12345")
    client.post("/api/v1/messages", json={"guest_id": "g"})  # a 422, on the route's template
    text = client.get("/metrics").text
    assert 'endpoint="/api/v1/messages"' in text
    assert "12345" not in text and 'endpoint="unmatched"' in text
