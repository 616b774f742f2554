"""A Toxiproxy API that accepts every fault and applies none: a test of the verdicts.

It answers like Toxiproxy (the proxies of a real proxy server, toxics created, listed and
removed, proxies disabled and enabled) but never touches the traffic, which keeps
flowing through the real proxy untouched. Its ``services`` do the same for process and
service faults (kill, pause, restart, disconnect): accepted, recorded, never applied.
An experiment run against both must not pass: each of its verdicts has to depend on its
fault, and with no fault applied they fail or cannot decide. ``chaoslab run
--null-faults`` runs experiments this way.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaos.processfaults import NullServices
from chaos.toxiproxy import ToxiproxyClient


class _State:
    def __init__(self, proxies: dict[str, dict[str, Any]]) -> None:
        self.lock = threading.Lock()
        self.proxies = proxies
        self.accepted: list[str] = []  # every fault it pretended to apply

    def proxy(self, name: str) -> dict[str, Any] | None:
        return self.proxies.get(name)


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, format: str, *args: Any) -> None:  # quiet, like a test double
        return

    def _send(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _parts(self) -> list[str]:
        return [p for p in self.path.split("?")[0].split("/") if p]

    def do_GET(self) -> None:
        parts, st = self._parts(), self.state
        with st.lock:
            if parts == ["version"]:
                return self._send(200, {"version": "null-faults"})
            if parts == ["proxies"]:
                return self._send(200, st.proxies)
            found = st.proxy(parts[1]) if len(parts) >= 2 and parts[0] == "proxies" else None
            if found is not None and len(parts) == 2:
                return self._send(200, found)
            if found is not None and parts[2:] == ["toxics"]:
                return self._send(200, found["toxics"])
        return self._send(404, {"error": "not found", "status": 404})

    def do_POST(self) -> None:
        parts, st, body = self._parts(), self.state, self._body()
        with st.lock:
            if parts == ["reset"]:
                for each in st.proxies.values():
                    each["enabled"], each["toxics"] = True, []
                return self._send(204)
            p = st.proxy(parts[1]) if len(parts) >= 2 and parts[0] == "proxies" else None
            if p is None:
                return self._send(404, {"error": "proxy not found", "status": 404})
            if len(parts) == 2:
                if body.get("enabled") is False:
                    st.accepted.append(f"{p['name']} down")
                p["enabled"] = bool(body.get("enabled", p["enabled"]))
                return self._send(200, p)
            if parts[2:] == ["toxics"]:
                toxic = {"stream": "downstream", "toxicity": 1.0, "attributes": {}, **body}
                p["toxics"].append(toxic)
                st.accepted.append(f"{p['name']} {toxic.get('type')}")
                return self._send(200, toxic)
        return self._send(404, {"error": "not found", "status": 404})

    def do_DELETE(self) -> None:
        parts, st = self._parts(), self.state
        with st.lock:
            if len(parts) == 4 and parts[0] == "proxies" and parts[2] == "toxics":
                p = st.proxy(parts[1])
                if p is not None and any(t["name"] == parts[3] for t in p["toxics"]):
                    p["toxics"] = [t for t in p["toxics"] if t["name"] != parts[3]]
                    return self._send(204)
        return self._send(404, {"error": "toxic not found", "status": 404})


class NullFaultProxy:
    """Serves the null-fault API on loopback; ``url`` is what to use as ``proxy_api``."""

    def __init__(self, real_api: str, host: str = "127.0.0.1") -> None:
        with ToxiproxyClient(real_api) as client:
            proxies = {
                name: {
                    "name": p.name,
                    "listen": p.listen,
                    "upstream": p.upstream,
                    "enabled": True,
                    "toxics": [],
                }
                for name, p in client.proxies().items()
            }
        self.state = _State(proxies)
        #: Process and service faults, accepted into the same list and never applied.
        self.services = NullServices(self.state.accepted)
        handler = type("NullFaultHandler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer((host, 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def accepted(self) -> list[str]:
        """Every fault it was asked to apply (and did not)."""
        return list(self.state.accepted)

    def __enter__(self) -> NullFaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
