"""The WhatsApp Graph API recorder."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agent.settings import WhatsAppSettings
from agent.whatsapp import GraphClient
from chaos.pms_simulator import create_app

API_KEY = "sim-test-key"
TOKEN = "graph-test-token"
URL = "/graph/v18.0/106540352242922/messages"


def text_message(to: str = "5491155550000", body: str = "Hola") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


@pytest.fixture
async def graph() -> AsyncIterator[httpx.AsyncClient]:
    """A client for a simulator whose recorder requires a Bearer token."""
    app = create_app(API_KEY, whatsapp_token=TOKEN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        headers={"Authorization": f"Bearer {TOKEN}", "X-API-Key": API_KEY},
    ) as c:
        yield c


async def test_messages_are_recorded_and_listed_per_recipient(graph: httpx.AsyncClient) -> None:
    first = await graph.post(URL, json=text_message(body="Hola"))
    assert first.status_code == 200
    assert first.json() == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "5491155550000", "wa_id": "5491155550000"}],
        "messages": [{"id": "wamid.SIM000000000001"}],
    }
    await graph.post(URL, json=text_message(to="34600000000", body="Hello"))
    await graph.post(URL, json=text_message(body="¿Algo más?"))

    sent = (await graph.get("/graph/_sent", params={"to": "5491155550000"})).json()["messages"]
    assert [m["payload"]["text"]["body"] for m in sent] == ["Hola", "¿Algo más?"]
    assert [m["id"] for m in sent] == ["wamid.SIM000000000001", "wamid.SIM000000000003"]
    assert sent[0]["phone_number_id"] == "106540352242922"
    assert sent[0]["version"] == "v18.0"
    everything = (await graph.get("/graph/_sent")).json()["messages"]
    assert len(everything) == 3


async def test_interactive_and_location_messages_are_accepted(graph: httpx.AsyncClient) -> None:
    interactive = {
        "messaging_product": "whatsapp",
        "to": "5491155550000",
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "¿Confirmás?"}},
    }
    location = {
        "messaging_product": "whatsapp",
        "to": "5491155550000",
        "type": "location",
        "location": {"latitude": -34.58, "longitude": -58.39},
    }
    for message in (interactive, location):
        assert (await graph.post(URL, json=message)).status_code == 200
    sent = (await graph.get("/graph/_sent")).json()["messages"]
    assert [m["type"] for m in sent] == ["interactive", "location"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN])
async def test_a_wrong_bearer_token_is_401_in_graph_format(
    graph: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"X-API-Key": API_KEY}
    if authorization is not None:
        headers["Authorization"] = authorization
    graph.headers.pop("Authorization")
    r = await graph.post(URL, json=text_message(), headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 190
    assert (await graph.get("/graph/_sent")).json()["messages"] == []


async def test_without_a_configured_token_any_caller_may_send() -> None:
    app = create_app(API_KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as c:
        assert (await c.post(URL, json=text_message())).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**text_message(), "messaging_product": "sms"}, "messaging_product"),
        ({**text_message(), "to": "not-a-phone"}, "phone number"),
        ({**text_message(), "type": "hologram"}, "unsupported message type"),
        ({"messaging_product": "whatsapp", "to": "5491155550000", "type": "text"}, "'text'"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_malformed_messages_are_400_and_not_recorded(
    graph: httpx.AsyncClient, body: Any, message: str
) -> None:
    r = await graph.post(URL, json=body)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]
    assert (await graph.get("/graph/_sent")).json()["messages"] == []


async def test_invalid_json_and_bad_paths_are_400(graph: httpx.AsyncClient) -> None:
    r = await graph.post(URL, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await graph.post("/graph/latest/106540352242922/messages", json=text_message())
    assert r.status_code == 400


async def test_reset_clears_recorded_messages(graph: httpx.AsyncClient) -> None:
    await graph.post(URL, json=text_message())
    r = await graph.post("/_admin/reset")
    assert r.json() == {"bookings_cleared": 0, "messages_cleared": 1}
    assert (await graph.get("/graph/_sent")).json()["messages"] == []
    again = await graph.post(URL, json=text_message())
    assert again.json()["messages"][0]["id"] == "wamid.SIM000000000001"


async def test_uploaded_media_is_served_as_graph_serves_it(graph: httpx.AsyncClient) -> None:
    note = b"OggS voice note bytes"
    up = await graph.post("/graph/_upload", content=note, headers={"content-type": "audio/ogg"})
    media_id = up.json()["id"]
    info = (await graph.get(f"/graph/v18.0/{media_id}")).json()
    assert info == {
        "messaging_product": "whatsapp",
        "url": f"http://sim.test/graph/_media/{media_id}",
        "mime_type": "audio/ogg",
        "sha256": hashlib.sha256(note).hexdigest(),
        "file_size": len(note),
        "id": media_id,
    }
    assert (await graph.get(info["url"])).content == note
    for path in (f"/graph/v18.0/{media_id}", info["url"]):
        denied = await graph.get(path, headers={"Authorization": "Bearer wrong"})
        assert denied.status_code == 401 and denied.json()["error"]["code"] == 190
    missing = await graph.get("/graph/v18.0/404404")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 100
    assert (await graph.post("/graph/_upload", content=b"")).status_code == 400


async def test_the_agent_downloads_media_through_the_graph_client() -> None:
    app = create_app(API_KEY, whatsapp_token=TOKEN)
    transport = httpx.ASGITransport(app=app)
    settings = WhatsAppSettings(
        graph_base_url="http://sim.test/graph",
        access_token=TOKEN,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as sim:
        up = await sim.post(
            "/graph/_upload",
            content=b"OggS",
            headers={"X-API-Key": API_KEY, "content-type": "audio/ogg; codecs=opus"},
        )
    client = GraphClient(settings, transport=transport)
    try:
        assert await client.download_media(up.json()["id"], 1024) == (
            b"OggS",
            "audio/ogg; codecs=opus",
        )
        with pytest.raises(ValueError, match="over the limit"):
            await client.download_media(up.json()["id"], 2)
        with pytest.raises(httpx.HTTPStatusError):
            await client.download_media("404404", 1024)
    finally:
        await client.aclose()
