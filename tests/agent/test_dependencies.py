"""The readiness checks of the HTTP dependencies (NLU service, transcriber)."""

from __future__ import annotations

import httpx

from agent.dependencies import HTTPService


def service(handler: httpx.MockTransport) -> HTTPService:
    return HTTPService("http://svc.test/", 1.0, transport=handler)


async def test_ping_is_true_only_for_a_200_from_health() -> None:
    seen: list[str] = []

    def answer(status: int) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            return httpx.Response(status)

        return httpx.MockTransport(handle)

    up, down = service(answer(200)), service(answer(503))
    assert await up.ping() is True
    assert await down.ping() is False
    assert seen == ["http://svc.test/health", "http://svc.test/health"]
    await up.aclose()
    await down.aclose()


async def test_ping_never_raises_when_the_service_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    unreachable = service(httpx.MockTransport(refuse))
    assert await unreachable.ping() is False
    await unreachable.aclose()
