"""The Toxiproxy 2.12 HTTP API: routes, status codes, JSON shapes and error bodies.

Parity details kept on purpose: create proxy and populate answer 201, create toxic 200,
deletes and reset 204; errors are ``{"error": ..., "status": ...}`` sent the way Go's
``http.Error`` sends them (``text/plain; charset=utf-8``, trailing newline); unknown
routes answer ``404 page not found``, known routes with another method 405 with an empty
body; a ``Mozilla/`` User-Agent gets 403; matched routes carry ``X-Toxiproxy-Request-Id``.
Differences: ``/metrics`` is always served (Toxiproxy needs ``-proxy-metrics``), and an
optional bearer token (off by default, since Toxiproxy clients cannot send one).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from chaos.proxy import chaoswindows, gojson
from chaos.proxy.exceptions import APIError, BadRequest, Unauthorized
from chaos.proxy.httpserver import Request, Response
from chaos.proxy.proxies import Proxy, ProxyCollection, ProxySpec
from chaos.proxy.toxics import Toxic, bad_body, parse_new_toxic, parse_update

log = logging.getLogger("chaos.proxy")

VERSION = "2.12.0"
HANDLER_TIMEOUT = 25.0
TIMEOUT_BODY = b"<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"
JSON = ("Content-Type", "application/json")
PLAIN = ("Content-Type", "text/plain; charset=utf-8")
NOSNIFF = ("X-Content-Type-Options", "nosniff")

_PROXY_FIELDS = {"name": "string", "listen": "string", "upstream": "string", "enabled": "bool"}
# Extension: a proxy disabled with ``ttl_ms`` enables itself again after that long.
_UPDATE_FIELDS = {**_PROXY_FIELDS, "ttl_ms": "int64"}

Params = dict[str, str]
RouteHandler = Callable[[Request, Params], Awaitable[Response]]


def json_response(status: int, value: Any) -> Response:
    """A success response encoded like Go's json.Marshal."""
    return Response(status, gojson.marshal(value).encode(), [JSON])


def error_response(error: APIError) -> Response:
    """An error response exactly as Toxiproxy's apiError writes it."""
    payload: dict[str, Any] = {"error": error.message, "status": error.status, **error.extra}
    body = (gojson.marshal(payload) + "\n").encode()
    return Response(error.status, body, [PLAIN, NOSNIFF])


def decode_proxy(value: Any, go_name: str = "toxiproxy.Proxy") -> dict[str, Any]:
    """The proxy fields present in a decoded body (Go struct ``Proxy``)."""
    return gojson.bind_fields(value, _PROXY_FIELDS, "Proxy", go_name)


def parse_populate(body: bytes) -> list[ProxySpec]:
    """Validate a ``/populate`` (or ``-config``) body: every entry before any is created."""
    no_proxies = {"proxies": None}
    try:
        value = gojson.decode_body(body)
        if value is not None and not isinstance(value, list):
            raise gojson.value_error(value, "[]toxiproxy.Proxy")
        entries = [decode_proxy(item) for item in value or []]
    except gojson.DecodeError as exc:
        raise BadRequest(f"bad request body: {exc}", extra=no_proxies) from None
    for index, fields in enumerate(entries, start=1):
        for required in ("name", "upstream"):
            if not fields.get(required):
                raise BadRequest(
                    f"missing required field: {required} at proxy {index}", extra=no_proxies
                )
    return [
        ProxySpec(f["name"], f.get("listen", ""), f["upstream"], f.get("enabled", True))
        for f in entries
    ]


class API:
    """Route requests to handlers over a ProxyCollection."""

    def __init__(
        self,
        collection: ProxyCollection,
        *,
        token: str | None = None,
        metrics_text: Callable[[], str] | None = None,
    ) -> None:
        self.collection = collection
        self.token = token
        self.metrics_text = metrics_text or self._metrics_text
        self._lock = asyncio.Lock()
        self._expiries: dict[tuple[str, str], object] = {}  # what ttl_ms will undo
        self._tasks: set[asyncio.Task[None]] = set()
        self._routes: list[tuple[tuple[str, ...], dict[str, RouteHandler]]] = [
            (("version",), {"GET": self.version}),
            (("metrics",), {"GET": self.metrics}),
            (("reset",), {"POST": self.reset}),
            (("populate",), {"POST": self.populate}),
            (("proxies",), {"GET": self.list_proxies, "POST": self.create_proxy}),
            (
                ("proxies", "{proxy}"),
                {
                    "GET": self.get_proxy,
                    "POST": self.update_proxy,
                    "PATCH": self.update_proxy,
                    "DELETE": self.delete_proxy,
                },
            ),
            (
                ("proxies", "{proxy}", "toxics"),
                {"GET": self.list_toxics, "POST": self.create_toxic},
            ),
            (
                ("proxies", "{proxy}", "toxics", "{toxic}"),
                {
                    "GET": self.get_toxic,
                    "POST": self.update_toxic,
                    "PATCH": self.update_toxic,
                    "DELETE": self.delete_toxic,
                },
            ),
        ]

    def _metrics_text(self) -> str:
        proxies = self.collection.proxies.values()
        return self.collection.metrics.render() + chaoswindows.render(proxies)

    # -- dispatch -------------------------------------------------------------------------
    def _match(self, path: str) -> tuple[dict[str, RouteHandler], Params] | None:
        if not path.startswith("/"):
            return None
        segments = path[1:].split("/")
        for pattern, methods in self._routes:
            if len(pattern) != len(segments):
                continue
            params: Params = {}
            for expected, actual in zip(pattern, segments, strict=True):
                if expected.startswith("{"):
                    if not actual:
                        break
                    params[expected[1:-1]] = actual
                elif expected != actual:
                    break
            else:
                return methods, params
        return None

    async def handle(self, request: Request) -> Response:
        """Answer one request (never raises)."""
        matched = self._match(request.path)
        if matched is None:
            return Response(404, b"404 page not found\n", [PLAIN, NOSNIFF])
        methods, params = matched
        handler = methods.get(request.method)
        if handler is None:
            return Response(405)
        response = await self._guarded(handler, request, params)
        response.headers.append(("X-Toxiproxy-Request-Id", secrets.token_hex(10)))
        return response

    async def _guarded(self, handler: RouteHandler, request: Request, params: Params) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response(403, b"User agent not allowed\n", [PLAIN, NOSNIFF])
        if self.token is not None and not self._authorised(request):
            return error_response(Unauthorized("missing or wrong bearer token"))
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT):
                async with self._lock:
                    return await handler(request, params)
        except APIError as error:
            if error.status >= 500:
                log.warning(error.message, extra={"path": request.path})
            return error_response(error)
        except TimeoutError:
            return Response(503, TIMEOUT_BODY, [("Content-Type", "text/html; charset=utf-8")])

    def _authorised(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        assert self.token is not None
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), self.token)

    # -- server -------------------------------------------------------------------------
    async def version(self, request: Request, params: Params) -> Response:
        body = f'{{"version": "{VERSION}"}}\n'.encode()
        return Response(200, body, [("Content-Type", "application/json;charset=utf-8")])

    async def metrics(self, request: Request, params: Params) -> Response:
        body = self.metrics_text().encode()
        return Response(200, body, [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])

    async def reset(self, request: Request, params: Params) -> Response:
        await self.collection.reset()
        return Response(204)

    # -- proxies ---------------------------------------------------------------------------
    async def list_proxies(self, request: Request, params: Params) -> Response:
        proxies = self.collection.proxies
        return json_response(200, {name: proxies[name].to_json() for name in sorted(proxies)})

    async def create_proxy(self, request: Request, params: Params) -> Response:
        try:
            fields = decode_proxy(gojson.decode_body(request.body))
        except gojson.DecodeError as exc:
            raise bad_body(exc) from None
        if not fields.get("name"):
            raise BadRequest("missing required field: name")
        if not fields.get("upstream"):
            raise BadRequest("missing required field: upstream")
        spec = ProxySpec(
            fields["name"],
            fields.get("listen", ""),
            fields["upstream"],
            fields.get("enabled", True),
        )
        proxy = await self.collection.add(spec)
        return json_response(201, proxy.to_json())

    async def populate(self, request: Request, params: Params) -> Response:
        proxies = await self.collection.populate(parse_populate(request.body))
        return json_response(201, {"proxies": [p.to_json() for p in proxies] or None})

    async def get_proxy(self, request: Request, params: Params) -> Response:
        return json_response(200, self.collection.get(params["proxy"]).to_json())

    async def update_proxy(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        try:
            fields = gojson.bind_fields(
                gojson.decode_body(request.body), _UPDATE_FIELDS, "Proxy", "toxiproxy.Proxy"
            )
        except gojson.DecodeError as exc:
            raise bad_body(exc) from None
        ttl_ms = fields.get("ttl_ms", 0)
        if ttl_ms < 0:
            raise BadRequest("ttl_ms must be 0 (no expiry) or positive")
        run_id = chaoswindows.run_id_of(request.headers)
        was_enabled = proxy.enabled
        await self.collection.update(
            proxy,
            listen=fields.get("listen", proxy.listen),
            upstream=fields.get("upstream", proxy.upstream),
            enabled=fields.get("enabled", proxy.enabled),
        )
        if was_enabled and not proxy.enabled:
            proxy.disabled_by_run = run_id
        elif proxy.enabled:
            proxy.disabled_by_run = ""
        self._expiries.pop(("proxy", proxy.name), None)
        if ttl_ms and not proxy.enabled:
            self._expire_later(("proxy", proxy.name), ttl_ms, self._enable_again, proxy)
        return json_response(200, proxy.to_json())

    # -- time-to-live (extension) ----------------------------------------------------------
    def _expire_later(
        self, key: tuple[str, str], ttl_ms: int, undo: Callable[..., Awaitable[None]], *args: Any
    ) -> None:
        """Run ``undo(*args)`` after ``ttl_ms`` unless ``key`` is rescheduled or cleared."""
        token = object()
        self._expiries[key] = token

        async def later() -> None:
            await asyncio.sleep(ttl_ms / 1000)
            if self._expiries.get(key) is token:
                del self._expiries[key]
                await undo(*args)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enable_again(self, proxy: Proxy) -> None:
        current = self.collection.proxies.get(proxy.name)
        if current is not None and current is proxy and not current.enabled:
            log.info("proxy %s enabled again: its ttl_ms ran out", current.name)
            await self.collection.update(current, current.listen, current.upstream, True)

    async def _remove_expired(self, proxy: Proxy, toxic: Toxic) -> None:
        if any(t is toxic for t in proxy.toxics):
            log.info("toxic %s removed from %s: its ttl_ms ran out", toxic.name, proxy.name)
            proxy.remove_toxic(toxic.name)

    async def delete_proxy(self, request: Request, params: Params) -> Response:
        self.collection.remove(params["proxy"])
        return Response(204)

    # -- toxics ---------------------------------------------------------------------------
    async def list_toxics(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, [t.to_json() for t in proxy.ordered_toxics()])

    async def create_toxic(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        toxic = parse_new_toxic(request.body, (t.name for t in proxy.toxics))
        toxic.run_id = chaoswindows.run_id_of(request.headers)
        proxy.add_toxic(toxic)
        if toxic.ttl_ms:
            key = ("toxic", f"{proxy.name}/{toxic.name}")
            self._expire_later(key, toxic.ttl_ms, self._remove_expired, proxy, toxic)
        return json_response(200, toxic.to_json())

    async def get_toxic(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        return json_response(200, proxy.find_toxic(params["toxic"]).to_json())

    async def update_toxic(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        toxic = proxy.find_toxic(params["toxic"])
        attributes, toxicity = parse_update(request.body, toxic)
        proxy.update_toxic(toxic, attributes, toxicity)
        return json_response(200, toxic.to_json())

    async def delete_toxic(self, request: Request, params: Params) -> Response:
        proxy = self.collection.get(params["proxy"])
        proxy.remove_toxic(params["toxic"])
        return Response(204)
