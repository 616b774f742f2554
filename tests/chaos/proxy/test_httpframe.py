"""HTTP/1.1 framing of the HTTP toxics: exact bytes, right boundaries, however TCP cuts them."""

from __future__ import annotations

import pytest

from chaos.proxy.httpframe import Body, End, Framer, Head, Opaque, Piece

POST_CHUNKED = (
    b"POST /api/v1/bookings HTTP/1.1\r\nHost: pms\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n0000A\r\n, world!!!\r\n0\r\nX-Trailer: yes\r\n\r\n"
)
GET = b"GET /health HTTP/1.1\r\nHost: pms\r\n\r\n"
POST_LENGTH = b"POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"
PIPELINE = b"\r\n" + POST_CHUNKED + GET + POST_LENGTH


def run(framer: Framer, data: bytes, step: int) -> list[Piece]:
    pieces: list[Piece] = []
    for start in range(0, len(data), step):
        pieces += framer.feed(data[start : start + step])
    return pieces


def summary(pieces: list[Piece]) -> list[str]:
    """Heads and ends in order (bodies are checked through the bytes they carry)."""
    out = []
    for piece in pieces:
        if isinstance(piece, Head):
            out.append(piece.method or str(piece.status))
        elif isinstance(piece, End):
            out.append("end")
        elif isinstance(piece, Opaque):
            out.append("opaque")
    return out


def raw(pieces: list[Piece]) -> bytes:
    return b"".join(p.raw for p in pieces if isinstance(p, Head | Body | Opaque))


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 100_000])
def test_pipelined_requests_whatever_the_cuts(step: int) -> None:
    pieces = run(Framer("request"), PIPELINE, step)
    assert summary(pieces) == ["POST", "end", "GET", "end", "POST", "end"]
    assert raw(pieces) == PIPELINE  # byte-exact, nothing added or lost
    body = b"".join(p.raw for p in pieces[1 : pieces.index(End())] if isinstance(p, Body))
    assert body == POST_CHUNKED.split(b"\r\n\r\n", 1)[1]


def test_head_fields() -> None:
    head = Framer("request").feed(POST_CHUNKED)[0]
    assert isinstance(head, Head)
    assert (head.method, head.version) == ("POST", "1.1")
    assert head.header("transfer-encoding") == "chunked" and not head.closes
    http10 = Framer("request").feed(b"GET / HTTP/1.0\r\n\r\n")[0]
    assert isinstance(http10, Head) and http10.closes


def make_responses(methods: list[str]) -> Framer:
    queue = list(methods)

    def next_method() -> str | None:
        return queue.pop(0) if queue else None

    return Framer("response", next_method)


def test_responses_no_body_length_chunked_and_until_close() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"  # answers HEAD: no body
        b"HTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
        b"HTTP/1.1 200 OK\r\n\r\nuntil the close"
    )
    framer = make_responses(["POST", "POST", "HEAD", "GET", "GET", "GET"])
    pieces = run(framer, data, 5)
    expected = ["100", "end", "200", "end", "200", "end", "204", "end", "200", "end", "200"]
    assert summary(pieces) == expected
    assert summary(pieces + framer.feed_eof())[-2:] == ["200", "end"]
    assert raw(pieces) == data


def test_not_http_is_opaque_at_once() -> None:
    for data in (
        b"*1\r\n$4\r\nPING\r\n",  # Redis
        b"\x00\x00\x00\x08\x04\xd2\x16\x2f",  # PostgreSQL SSLRequest
        b"\x16\x03\x01\x02\x00",  # TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # HTTP/2 preface
    ):
        framer = Framer("request")
        assert framer.feed(data) == [Opaque(data)]
        assert framer.opaque and framer.feed(b"GET / HTTP/1.1\r\n\r\n")[0] == Opaque(
            b"GET / HTTP/1.1\r\n\r\n"
        )
    assert Framer("response").feed(b"-ERR x\r\n") == [Opaque(b"-ERR x\r\n")]


def test_a_partial_head_is_held_then_released_at_eof() -> None:
    framer = Framer("request")
    assert framer.feed(b"GET /slow HT") == [] and framer.holding
    assert framer.feed_eof() == [Opaque(b"GET /slow HT")]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad header\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    ],
)
def test_what_cannot_be_framed_passes_through(request_bytes: bytes) -> None:
    framer = Framer("request")
    pieces = framer.feed(request_bytes + GET)
    assert framer.opaque
    assert raw(pieces) == request_bytes + GET


def test_upgrade_and_connect_end_the_framing() -> None:
    upgrade = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    framer = Framer("request")
    pieces = framer.feed(upgrade + b"\x81\x05hello")
    assert summary(pieces) == ["GET", "end", "opaque"] and framer.opaque
    responses = make_responses(["CONNECT"])
    pieces = responses.feed(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03")
    assert summary(pieces) == ["200", "end", "opaque"]


def test_a_huge_head_gives_up() -> None:
    framer = Framer("request")
    framer.feed(b"GET / HTTP/1.1\r\n")
    pieces = framer.feed(b"X-Big: " + b"a" * 70_000)
    assert framer.opaque and raw(pieces).endswith(b"a" * 100)
