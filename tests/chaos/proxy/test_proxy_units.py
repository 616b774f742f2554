"""Unit tests of the pure pieces: Go JSON quirks, slicing, addresses, flags, toxic parsing."""

from __future__ import annotations

import random

import pytest

from chaos.proxy import gojson
from chaos.proxy.addresses import split_host_port
from chaos.proxy.behaviours import slice_sizes
from chaos.proxy.config import parse_args
from chaos.proxy.exceptions import BadRequest, Conflict, ListenError
from chaos.proxy.server import main
from chaos.proxy.toxics import Toxic, parse_new_toxic, parse_update

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.2, "0.2"), (0.5, "0.5"), (0.0, "0"), (1e-7, "1e-07"), (123456.7, "123456.7")],
)
def test_float32_prints_like_go(value: float, text: str) -> None:
    assert gojson.format_float32(gojson.to_float32(value)) == text


def test_marshal_is_compact_and_html_escaped() -> None:
    assert gojson.marshal({"a": [1, True, None], "b": "<&>"}) == (
        '{"a":[1,true,null],"b":"\\u003c\\u0026\\u003e"}'
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"   ", "EOF"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
    ],
)
def test_decode_errors_use_go_wording(body: bytes, message: str) -> None:
    with pytest.raises(gojson.DecodeError) as info:
        gojson.decode_body(body)
    assert str(info.value) == message


def test_bind_fields_prefers_exact_keys_and_last_wins() -> None:
    value = gojson.decode_body(b'{"NAME": "a", "name": "b", "Name": "c", "enabled": null}')
    fields = gojson.bind_fields(value, {"name": "string", "enabled": "bool"}, "Proxy", "P")
    assert fields == {"name": "c"}


def test_int64_range_is_enforced() -> None:
    value = gojson.decode_body(b'{"bytes": 9223372036854775808}')
    with pytest.raises(gojson.DecodeError, match="number 9223372036854775808 into"):
        gojson.bind_fields(value, {"bytes": "int64"}, "LimitDataToxic", "x")


def test_slicer_average_one_gives_single_bytes() -> None:
    assert slice_sizes(24, 1, 0, random.Random(1)) == [1] * 24


def test_slicer_average_zero_terminates() -> None:
    assert slice_sizes(10, 0, 0, random.Random(1)) == [1] * 10


@pytest.mark.parametrize("seed", range(5))
def test_slicer_pieces_are_near_the_average_and_cover_the_chunk(seed: int) -> None:
    sizes = slice_sizes(480_000, 1024, 512, random.Random(seed))
    assert sum(sizes) == 480_000
    assert all(size > 0 for size in sizes)
    assert 240 <= len(sizes) <= 1000
    assert max(sizes) <= 1024 + 512


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("local373", "missing port in address"),
        ("[::1", "missing ']' in address"),
        ("[::1]", "missing port in address"),
        ("1:2:3", "too many colons in address"),
    ],
)
def test_split_host_port_errors(address: str, reason: str) -> None:
    with pytest.raises(ListenError) as info:
        split_host_port(address)
    assert info.value.message == f"listen tcp: address {address}: {reason}"


def test_split_host_port_accepts_ipv6_and_empty_host() -> None:
    assert split_host_port("[::1]:80") == ("::1", "80")
    assert split_host_port(":8474") == ("", "8474")


def test_toxic_checks_run_in_toxiproxy_order() -> None:
    with pytest.raises(BadRequest, match="stream was invalid"):
        parse_new_toxic(b'{"type": "nope", "stream": "x"}', [])
    with pytest.raises(BadRequest, match="invalid toxic type"):
        parse_new_toxic(b'{"type": "nope", "name": "taken"}', ["taken"])
    with pytest.raises(Conflict):
        parse_new_toxic(
            b'{"type": "latency", "attributes": {"latency": -1}}', ["latency_downstream"]
        )
    with pytest.raises(BadRequest, match="non-negative"):
        parse_new_toxic(b'{"type": "latency", "attributes": {"latency": -1}}', [])


def test_toxic_update_merges_and_keeps_toxicity() -> None:
    toxic = Toxic(
        "t",
        "slicer",
        "downstream",
        "downstream",
        0.25,
        {"average_size": 5, "size_variation": 1, "delay": 9},
    )
    attributes, toxicity = parse_update(b'{"attributes": {"delay": 2}}', toxic)
    assert attributes == {"average_size": 5, "size_variation": 1, "delay": 2}
    assert toxicity == 0.25


def test_flags_accept_go_and_gnu_spellings() -> None:
    options = parse_args(["-host=0.0.0.0", "--port", "9000", "-config", "p.json", "-proxy-metrics"])
    assert (options.host, options.port, options.config) == ("0.0.0.0", 9000, "p.json")
    assert parse_args(["--port=0"]).port == 0
    assert parse_args([]).host == "127.0.0.1"
    assert parse_args([]).port == 8474


@pytest.mark.parametrize("argv", [["-port", "70000"], ["-port", "x"], ["-bogus"]])
def test_bad_flags_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-version"]) == 0
    assert capsys.readouterr().out == "toxiproxy-server version 2.12.0\n"
