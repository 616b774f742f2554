"""WhatsApp as Meta really delivers it, against the live stack: duplicate and concurrent
copies, odd payloads, non-text messages, statuses and a Graph API that fails."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.faults import Fault, inject
from chaos.load.stays import MONTHS_ES
from chaos.metrics import scrape
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient
from tests.agent.whatsapp_helpers import (
    message,
    post,
    reply_texts,
    sender,
    sent_to,
    signed,
    text,
    wamid,
)

pytestmark = pytest.mark.integration


def audit_rows(stack: StackState, guest: str) -> list[tuple[str, dict[str, Any]]]:
    with psycopg.connect(stack.url("postgres")) as conn:
        return list(
            conn.execute(
                "SELECT event_type, payload FROM audit_logs WHERE guest_id = %s "
                "ORDER BY occurred_at",
                (guest,),
            )
        )


def metric(stack: StackState, name: str, **labels: str) -> float:
    return scrape(stack.url("agent")).total(name, **labels) or 0.0


def wait_for(check: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_copies_delivered_at_the_same_moment_get_one_reply_and_one_audit_event(
    stack: StackState,
) -> None:
    guests = [(sender(), wamid()) for _ in range(30)]
    duplicates_before = metric(stack, "whatsapp_duplicates_total")

    async def deliver() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.url("agent"), timeout=30) as client:
            posts = []
            for frm, mid in guests:
                raw, headers = signed(stack, text(frm, "¿A qué hora es el check-in?", mid))
                # Both copies at the same moment, as Meta sometimes sends them.
                posts += [
                    client.post("/webhooks/whatsapp", content=raw, headers=headers)
                    for _ in range(2)
                ]
            return list(await asyncio.gather(*posts))

    responses = asyncio.run(deliver())
    assert all(r.status_code == 200 for r in responses)
    assert sum(r.json()["processed"] for r in responses) == 30
    assert sum(r.json()["duplicates"] for r in responses) == 30
    for frm, mid in guests:
        assert len(sent_to(stack, frm)) == 1, frm
        rows = [p for kind, p in audit_rows(stack, frm) if kind == "message"]
        assert [p["message_id"] for p in rows] == [mid]
    assert metric(stack, "whatsapp_duplicates_total") - duplicates_before == 30


# -- odd payloads: a 2xx or a 4xx with a reason, never a 5xx ---------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


BASE = message("5491100000001", "wamid.base", "text", body="hola")
BASE["entry"][0]["changes"][0]["value"]["statuses"] = [
    {"id": "wamid.out", "status": "read", "timestamp": "1", "recipient_id": "5491100000001"}
]
PATHS = paths(BASE)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    payload = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = payload
        try:
            for key in path[:-1]:
                node = node[key]
            if draw(st.booleans()) and isinstance(node, dict):
                node.pop(path[-1], None)
            else:
                node[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the way there
    value = payload.get("entry", [{}])
    if isinstance(value, list) and value and isinstance(value[0], dict):
        changes = value[0].get("changes")
        if isinstance(changes, list) and changes and isinstance(changes[0], dict):
            inner = changes[0].get("value")
            msgs = inner.get("messages") if isinstance(inner, dict) else None
            if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict):
                msgs[0]["id"] = wamid()  # each example a new message, really answered
    return payload


@pytest.fixture(scope="module")
def agent(stack: StackState) -> Any:
    with httpx.Client(base_url=stack.url("agent"), timeout=30) as client:
        yield client


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=mutated())
def test_any_signed_payload_gets_a_2xx_or_a_4xx_with_a_reason(
    stack: StackState, agent: httpx.Client, payload: Any
) -> None:
    response = post(agent, stack, payload)
    assert response.status_code < 500, (response.status_code, response.text, payload)
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] and body["detail"]


@pytest.mark.parametrize(
    "mutation",
    [
        ("contacts", 0, "profile", ["Ana"]),
        ("contacts", 0, "profile", "Ana"),
        ("contacts", 5),
        ("metadata", "lab"),
        ("messages", True),
    ],
)
def test_the_payloads_that_answered_500_before(
    stack: StackState, agent: httpx.Client, mutation: tuple[Any, ...]
) -> None:
    payload = text(sender(), "hola")
    node = payload["entry"][0]["changes"][0]["value"]
    *path, last, value = mutation
    for key in path:
        node = node[key]
    node[last] = value
    response = post(agent, stack, payload)
    assert response.status_code in (200, 400), response.text
    if mutation[0] != "messages":
        assert response.json()["processed"] == 1


# -- non-text messages ------------------------------------------------------------------------


def book_over_whatsapp(client: httpx.Client, stack: StackState, frm: str) -> None:
    check_in = date.today() + timedelta(days=120)
    check_out = check_in + timedelta(days=2)
    month = MONTHS_ES[check_in.month - 1]
    for line in (
        f"Hola! ¿Tienen lugar del {check_in.day} al {check_out.day} de {month} para 2 personas?"
        if check_in.month == check_out.month
        else f"Hola! ¿Tienen lugar del {check_in.day} de {month} al {check_out.day} de "
        f"{MONTHS_ES[check_out.month - 1]} para 2 personas?",
        "Me quedo con la deluxe",
        "sí, confirmo",
    ):
        assert post(client, stack, text(frm, line)).status_code == 200


def test_a_payment_receipt_is_acknowledged_audited_and_staff_alerted(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    stranger = sender()
    assert post(agent, stack, message(stranger, wamid(), "image", id="m1")).status_code == 200
    assert "No puedo ver fotos" in reply_texts(stack, stranger)[-1]
    book_over_whatsapp(agent, stack, frm)
    assert "comprobante" in reply_texts(stack, frm)[-1]
    image = message(frm, wamid(), "image", id="media-1", mime_type="image/jpeg")
    assert post(agent, stack, image).json()["processed"] == 1
    assert "Recibimos el comprobante" in reply_texts(stack, frm)[-1]
    kinds = [kind for kind, _ in audit_rows(stack, frm)]
    assert "payment_proof" in kinds and "booking" in kinds
    proof = next(p for kind, p in audit_rows(stack, frm) if kind == "payment_proof")
    assert proof["media_id"] == "media-1" and proof["booking_id"].startswith("BK-")

    def alerted() -> bool:
        r = httpx.get(
            f"{stack.url('alertmanager')}/api/v2/alerts",
            params={"filter": 'alertname="PaymentProofReceived"'},
            timeout=5,
        )
        return bool(r.json())

    assert wait_for(alerted)


def test_location_reaction_and_unknown_types_are_answered_and_audited_in_the_guests_language(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    post(agent, stack, text(frm, "Hello, what time is check-in?"))
    post(agent, stack, message(frm, wamid(), "location", latitude=-34.6037, longitude=-58.3816))
    post(agent, stack, message(frm, wamid(), "reaction", message_id="wamid.x", emoji="👍"))
    post(agent, stack, message(frm, wamid(), "sticker", id="s1"))
    post(agent, stack, message(frm, wamid(), "hologram", beam=1))
    replies = reply_texts(stack, frm)
    assert len(replies) == 5
    assert "km from the hotel" in replies[1]
    assert replies[2].startswith("Thank you")
    assert replies[3] == replies[4] and "Could you type it" in replies[3]
    rows = [p for kind, p in audit_rows(stack, frm) if kind == "message"]
    kinds = [p.get("kind") for p in rows]
    assert kinds == [None, "location", "reaction", "unsupported", "unsupported"]
    assert all(p["language"] == "en" for p in rows)


# -- statuses and failed sends ------------------------------------------------------------------


def test_statuses_out_of_order_are_stored_per_message_and_counted(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    post(agent, stack, text(frm, "hola"))
    out = sent_to(stack, frm)[0]["id"]
    read_before = metric(stack, "whatsapp_statuses_total", status="read")
    value = {
        "messaging_product": "whatsapp",
        "statuses": [
            {"id": out, "status": s, "timestamp": str(n), "recipient_id": frm}
            for n, s in ((3, "read"), (1, "sent"), (2, "delivered"))
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    response = post(agent, stack, payload)
    assert response.json() == {"status": "ok", "processed": 0, "duplicates": 0, "statuses": 3}
    stored = redis.Redis.from_url(stack.url("redis")).hgetall(f"whatsapp:status:{out}")
    assert {k.decode() for k in stored} == {"sent", "delivered", "read"}
    assert metric(stack, "whatsapp_statuses_total", status="read") - read_before == 1


@pytest.mark.parametrize("fault", ["down", "http_503"])
def test_a_reply_graph_did_not_take_is_sent_from_the_outbox_once(
    stack: StackState, agent: httpx.Client, fault: str
) -> None:
    frm, mid = sender(), wamid()
    payload = text(frm, "¿Dónde queda el hotel?", mid)
    queued = metric(stack, "whatsapp_outbox_total", outcome="queued")
    with ToxiproxyClient(stack.url("proxy_api")) as proxy:
        if fault == "down":
            ctx = inject(proxy, Fault("graph", "down"))
        else:
            ctx = inject(proxy, Fault("graph", "http_status", {"status": 503}, stream="upstream"))
        with ctx:
            first = post(agent, stack, payload)
            again = post(agent, stack, payload)  # Meta's retry while the reply waits
            time.sleep(1.0)
            assert sent_to(stack, frm) == []
    assert first.json()["processed"] == 1 and again.json()["duplicates"] == 1
    assert metric(stack, "whatsapp_outbox_total", outcome="queued") - queued == 1
    assert wait_for(lambda: sent_to(stack, frm))
    time.sleep(1.5)
    post(agent, stack, payload)  # a later duplicate replays nothing
    time.sleep(0.5)
    replies = reply_texts(stack, frm)
    assert len(replies) == 1 and "Libertador" in replies[0]
    assert [p["message_id"] for k, p in audit_rows(stack, frm) if k == "message"] == [mid]
    assert json.loads(json.dumps(metric(stack, "whatsapp_outbox_pending"))) == 0
