"""A local webhook receiver for Alertmanager: the lab's stand-in for a pager.

``POST /alerts`` takes Alertmanager's webhook payload (version 4), keeps it in memory
and appends it as one JSON line to a file when one is given. ``GET /alerts`` lists what
arrived, for tests and notebooks. Loopback by default; bodies over 1 MiB get 413 and
malformed ones 400, always with a JSON reason.

Run it with ``python -m chaos.dashboards.alert_sink --listen 127.0.0.1:5001 --out FILE``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

MAX_BODY = 1024 * 1024
Notification = dict[str, Any]


class AlertSink:
    """Receives Alertmanager webhook notifications on a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5001, out: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._out = out
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def url(self) -> str:
        """The webhook URL to give Alertmanager."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def received(self) -> list[Notification]:
        """A copy of every notification received so far, oldest first."""
        with self._lock:
            return list(self._received)

    def record(self, payload: Notification) -> None:
        """Keep one notification (and append it to the output file, if any)."""
        entry = {"received_at": time.time(), **payload}
        with self._lock:
            self._received.append(entry)
            if self._out is not None:
                self._out.parent.mkdir(parents=True, exist_ok=True)
                with self._out.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, sort_keys=True) + "\n")

    def wait_for(
        self, predicate: Callable[[Notification], bool], timeout: float = 30.0
    ) -> Notification:
        """The first notification matching ``predicate``; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for note in self.received():
                if predicate(note):
                    return note
            time.sleep(0.1)
        raise TimeoutError(f"no matching notification within {timeout} s")

    def start(self) -> AlertSink:
        """Serve on a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="alert-sink", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until stop() is called."""
        self._serving.set()
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving (if serving) and close the socket."""
        if self._serving.is_set():
            self._server.shutdown()
            self._serving.clear()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _valid(payload: Any) -> str | None:
    """Why ``payload`` is not an Alertmanager webhook notification, or None."""
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        return "field 'alerts' must be a list of objects"
    if not isinstance(payload.get("receiver"), str):
        return "field 'receiver' must be a string"
    return None


def _handler_for(sink: AlertSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hcl-alert-sink"

        def _reply(self, status: HTTPStatus, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/alerts":
                self._reply(HTTPStatus.OK, sink.received())
            elif self.path == "/health":
                self._reply(HTTPStatus.OK, {"status": "ok"})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": "not_found", "detail": self.path})

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self._reply(HTTPStatus.NOT_FOUND, {"error": "not_found", "detail": self.path})
                return
            length_header = self.headers.get("Content-Length", "")
            if not length_header.isdigit():
                self._reply(
                    HTTPStatus.LENGTH_REQUIRED,
                    {"error": "length_required", "detail": "send Content-Length"},
                )
                return
            length = int(length_header)
            if length > MAX_BODY:
                self.close_connection = True
                self._reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"error": "payload_too_large", "detail": f"limit {MAX_BODY} bytes"},
                )
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "malformed_json", "detail": str(exc)})
                return
            problem = _valid(payload)
            if problem:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": "invalid_payload", "detail": problem})
                return
            sink.record(payload)
            self._reply(HTTPStatus.OK, {"status": "ok"})

        def log_message(self, format: str, *args: Any) -> None:
            return  # the JSON-lines file is the record; per-request lines are noise

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Alertmanager webhook sink (JSON lines).")
    parser.add_argument(
        "--listen", default="127.0.0.1:5001", help="host:port (default 127.0.0.1:5001)"
    )
    parser.add_argument("--out", type=Path, default=None, help="append notifications to this file")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen must be host:port, got {args.listen!r}")
    sink = AlertSink(host, int(port), args.out)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=sink.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"alert sink listening on {sink.url}", flush=True)
    sink.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
