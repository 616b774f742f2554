"""WhatsApp webhook helpers: HMAC signatures and payload parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.whatsapp import (
    PayloadError,
    StatusUpdate,
    parse_payload,
    parse_webhook,
    sign,
    signature_valid,
)

FIELDS = (
    "object", "entry", "changes", "value", "messages", "contacts", "profile", "name", "id",
    "from", "type", "text", "body", "statuses", "status", "wa_id", "interactive", "image",
)  # fmt: skip


def payload(*messages: dict, contacts: list | None = None) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": contacts or [],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def test_signature_round_trip_and_tampering() -> None:
    body = json.dumps(payload()).encode()
    header = sign("s3cret", body)
    assert signature_valid("s3cret", body, header)
    assert not signature_valid("s3cret", body + b" ", header)
    assert not signature_valid("other", body, header)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, header.removeprefix("sha256="))


def test_text_and_button_messages_are_parsed_with_the_contact_name() -> None:
    parsed = parse_payload(
        payload(
            {"id": "wamid.1", "from": "5491100000000", "type": "text", "text": {"body": "hola"}},
            {
                "id": "wamid.2",
                "from": "5491100000000",
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Sí"}},
            },
            {"id": "wamid.3", "from": "5491100000000", "type": "image", "image": {"id": "m"}},
            contacts=[{"wa_id": "5491100000000", "profile": {"name": "Ana"}}],
        )
    )
    assert [(m.message_id, m.text, m.kind) for m in parsed] == [
        ("wamid.1", "hola", "text"),
        ("wamid.2", "Sí", "interactive"),
        ("wamid.3", None, "image"),
    ]
    assert parsed[0].name == "Ana"


def test_status_updates_carry_no_messages() -> None:
    body = payload()
    body["entry"][0]["changes"][0]["value"]["statuses"] = [{"id": "wamid.x", "status": "read"}]
    assert parse_payload(body) == []


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": 3}]}]},
        payload({"type": "text", "text": {"body": "no id"}}),
    ],
)
def test_malformed_payloads_are_rejected(bad: object) -> None:
    with pytest.raises(PayloadError):
        parse_payload(bad)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=1000, deadline=None)
@given(value=JSON)
def test_parsing_any_json_raises_only_payload_error(value: object) -> None:
    for candidate in (value, payload(value), payload(contacts=value)):  # type: ignore[arg-type]
        try:
            hook = parse_webhook(candidate)
        except PayloadError:
            continue
        for m in hook.messages:
            assert m.message_id and m.sender and isinstance(m.kind, str)
            assert m.text is None or isinstance(m.text, str)
        assert all(isinstance(s.status, str) for s in hook.statuses)


def test_odd_shapes_meta_could_send_are_read_leniently() -> None:
    body = payload(
        {"id": "w1", "from": 5491100000000, "type": "text", "text": {"body": "hola"}},
        {"id": "w2", "from": "54911", "type": "location", "location": {"latitude": "x"}},
        {"id": "w3", "from": "54911", "type": "reaction", "reaction": "👍"},
        {"id": "w4", "from": "54911"},
        contacts=[{"wa_id": "5491100000000", "profile": ["Ana"]}, 3, {"profile": "x"}],
    )
    body["entry"][0]["changes"][0]["value"]["metadata"] = "lab"
    body["entry"][0]["changes"][0]["value"]["statuses"] = [
        {"id": "wamid.o", "status": "READ", "timestamp": "17", "errors": [{"code": "131047"}]},
        {"status": "sent"},
        "nonsense",
    ]
    hook = parse_webhook(body)
    assert [(m.message_id, m.sender, m.kind, m.text) for m in hook.messages] == [
        ("w1", "5491100000000", "text", "hola"),
        ("w2", "54911", "location", None),
        ("w3", "54911", "reaction", None),
        ("w4", "54911", "unknown", None),
    ]
    assert hook.messages[0].name is None and hook.messages[1].details["latitude"] is None
    assert hook.statuses == [StatusUpdate("wamid.o", "read", None, 17, 131047)]
    assert hook.ignored == 2
    with pytest.raises(PayloadError, match="messages must be a list"):
        parse_webhook(payload() | {"entry": [{"changes": [{"value": {"messages": True}}]}]})
