"""Running the server: in-process ProxyServer, ``python -m chaos.proxy`` with -config, signals."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import pytest

from chaos.proxy import ProxyServer
from chaos.proxy.exceptions import ProxyServerError
from chaos.proxy.process import spawn

pytestmark = pytest.mark.chaos


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_in_process_server_loads_config_and_proxies_in_the_same_loop(
    tmp_path: Path,
) -> None:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    upstream_port = upstream.sockets[0].getsockname()[1]
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [{"name": "echo", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream_port}"}]
        )
    )
    server = ProxyServer(port=0, config=str(config))
    port = await server.start()
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=server.url) as client:
            listen = (await client.get("/proxies/echo")).json()["listen"]
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", int(listen.rsplit(":", 1)[1])
            )
            writer.write(b"hello")
            assert await reader.readexactly(5) == b"hello"
            await client.post(
                "/proxies/echo/toxics", json={"type": "latency", "attributes": {"latency": 50}}
            )
            start = asyncio.get_running_loop().time()
            writer.write(b"again")
            assert await reader.readexactly(5) == b"again"
            assert asyncio.get_running_loop().time() - start >= 0.045
            writer.close()
    finally:
        await server.stop()
        upstream.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


async def test_bad_config_is_logged_and_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "broken.json"
    config.write_text("{not json")
    server = ProxyServer(port=0, config=str(config))
    with caplog.at_level("ERROR", logger="chaos.proxy"):
        await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/proxies")).json() == {}
    finally:
        await server.stop()
    [record] = [
        r for r in caplog.records if r.getMessage() == "Failed to populate proxies from file"
    ]
    assert "bad request body: invalid character" in record.err


async def test_token_protects_every_route_when_set() -> None:
    server = ProxyServer(port=0, token="s3cret")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            denied = await client.get("/proxies")
            assert denied.status_code == 401
            assert denied.json() == {"error": "missing or wrong bearer token", "status": 401}
            allowed = await client.get("/proxies", headers={"Authorization": "Bearer s3cret"})
            assert allowed.status_code == 200
    finally:
        await server.stop()


def test_module_entry_point_with_config_and_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        fixed = probe.getsockname()[1]
    config = tmp_path / "toxiproxy.json"
    config.write_text(
        json.dumps(
            [
                {
                    "name": "fixed",
                    "listen": f"127.0.0.1:{fixed}",
                    "upstream": "127.0.0.1:9",
                    "enabled": True,
                }
            ]
        )
    )
    handle = spawn(tmp_path / "server.log", args=["--config", str(config)])
    try:
        proxies = httpx.get(f"{handle.url}/proxies", timeout=5).json()
        assert proxies["fixed"]["listen"] == f"127.0.0.1:{fixed}"
    finally:
        status = handle.stop()
    assert status == 0
    assert '"message": "Starting Toxiproxy HTTP server"' in (tmp_path / "server.log").read_text()


def test_api_port_in_use_fails_with_exit_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ProxyServerError, match=r"exit 1\).*API server failed to listen"):
            spawn(tmp_path / "server.log", port=taken.getsockname()[1], timeout=10)
