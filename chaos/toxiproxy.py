"""A typed client for the Toxiproxy HTTP API (the real server and ours).

Every call has a timeout, and any non-2xx answer raises ``ToxiproxyError`` with the
server's message. Unlike toxiproxy-python it can update toxics and uses PATCH-free
POST updates, which both servers accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from chaos.exceptions import ToxiproxyError
from chaos.proxy.chaoswindows import RUN_HEADER

TOXIC_TYPES = (
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
    # Extensions of chaos.proxy (per-request HTTP faults); the real Toxiproxy refuses them.
    "http_status",
    "http_delay",
)
STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            name=data["name"],
            type=data["type"],
            stream=data.get("stream", "downstream"),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or []),
        )


class ToxiproxyClient:
    """Synchronous client; cheap to create, close it (or use ``with``) when done."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8474",
        timeout_s: float = 5.0,
        *,
        run_id: str = "",
    ) -> None:
        """``run_id`` labels what this client adds on chaos.proxy's chaos-window series."""
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "chaoslab"}
        if run_id:
            headers[RUN_HEADER] = run_id  # ignored by the real Toxiproxy
        self._http = httpx.Client(
            base_url=self.base_url, timeout=httpx.Timeout(timeout_s), headers=headers
        )

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(0, f"{self.base_url} unreachable: {exc}") from exc
        if not response.is_success:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ToxiproxyError(response.status_code, str(message).strip())
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def version(self) -> str:
        response = self._http.get("/version")
        response.raise_for_status()
        text = response.text.strip()
        return str(response.json().get("version", text)) if text.startswith("{") else text

    def proxies(self) -> dict[str, Proxy]:
        return {
            name: Proxy.from_json(p) for name, p in (self._call("GET", "/proxies") or {}).items()
        }

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}"))

    def create_proxy(self, name: str, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._call("POST", "/proxies", body))

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        result = self._call("POST", "/populate", proxies) or {}
        return [Proxy.from_json(p) for p in result.get("proxies") or []]

    def set_enabled(self, name: str, enabled: bool, ttl_ms: int = 0) -> Proxy:
        """Enable or disable a proxy; ``ttl_ms`` makes a disabled one come back on its own
        (an extension of our proxy; Toxiproxy ignores it)."""
        body: dict[str, Any] = {"enabled": enabled}
        if ttl_ms:
            body["ttl_ms"] = ttl_ms
        return Proxy.from_json(self._call("POST", f"/proxies/{name}", body))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._call("GET", f"/proxies/{proxy}/toxics") or []]

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: dict[str, int] | None = None,
        ttl_ms: int = 0,
    ) -> Toxic:
        """Add a toxic; ``ttl_ms`` makes it remove itself (our proxy; Toxiproxy ignores it)."""
        body: dict[str, Any] = {
            "name": name,
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        if ttl_ms:
            body["ttl_ms"] = ttl_ms
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics", body))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        toxicity: float | None = None,
        attributes: dict[str, int] | None = None,
    ) -> Toxic:
        body: dict[str, Any] = {}
        if toxicity is not None:
            body["toxicity"] = toxicity
        if attributes is not None:
            body["attributes"] = attributes
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics/{name}", body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")
