"""A Toxiproxy-compatible fault proxy in pure Python asyncio (HTTP API of Toxiproxy 2.12).

Running it
    ``python -m chaos.proxy [-host 127.0.0.1] [-port 8474] [-config proxies.json]``
    (``chaoslab proxy`` calls :func:`main`). Flags take one or two dashes and ``=value``
    or a separate value, like the Go binary. When the API is listening, one JSON line is
    printed on stdout whatever ``LOG_LEVEL`` says::

        {"level": "info", "message": "Starting Toxiproxy HTTP server", "host": "127.0.0.1",
         "port": 8474, "version": "2.12.0"}

    so a wrapper can start it with ``-port 0`` and read the bound port from that line
    (``chaos.proxy.process.spawn()`` does exactly that and returns a handle with
    ``.port``, ``.url`` and ``.stop()``). Other logs are JSON lines on stdout at
    ``LOG_LEVEL``. SIGINT/SIGTERM stop it cleanly (exit 0); an API port that cannot be
    bound exits 1. Extra flags: ``-dial-timeout S`` (upstream connect timeout, default 10),
    ``-loop auto|asyncio|uvloop`` (auto: uvloop when installed, about half the added
    latency of the default loop), ``-token``, ``-seed``.

    In-process: ``server = ProxyServer(port=0); await server.start()`` (returns the bound
    port; ``server.url`` is the API base URL), then ``await server.stop()``. The API and
    every proxy share the caller's event loop.

Module map
    server (ProxyServer, main), process (run it as a child), api (routes, status codes,
    error bodies), httpserver (HTTP/1.1 on asyncio streams), proxies (listeners,
    lifecycle, populate, reset),
    links (data plane: sockets, links, half-close, backpressure), behaviours (what each
    toxic does to a link), httptoxics and httpframe (the HTTP toxics and their HTTP/1.1
    framing), toxics (types, attributes, validation), addresses (listen parsing,
    binding, Go error texts), gojson (Go encoding/json quirks), metrics, chaoswindows
    (which faults are in place, as Prometheus series), config.

Extension: HTTP toxics
    ``http_status`` (``status``, ``retry_after``) and ``http_delay`` (``delay``) act on
    HTTP/1.x upstreams per request, not per connection; see ``chaos.proxy.httptoxics``.
    Toxiproxy has no such types and answers 400 for them; every Toxiproxy type, route
    and field is unchanged, so Toxiproxy clients create them like any other toxic.

Extension: faults that expire
    A toxic created with ``"ttl_ms": N`` removes itself after N ms; a proxy updated with
    ``{"enabled": false, "ttl_ms": N}`` enables itself again after N ms (any later update
    of the proxy cancels that). Toxiproxy ignores unknown fields, so a client sending them
    to the real server gets faults that do not expire; ``chaos.lease`` covers that case.

Decisions where this server differs from Toxiproxy 2.12 (all harmless to its clients)
    - A missing or empty ``listen`` binds 127.0.0.1 on a free port (Go: every interface).
      ``0.0.0.0:P``, ``:P`` and ``[::]:P`` bind every interface (dual-stack) and are
      reported as ``[::]:P`` exactly like Go; names such as ``localhost`` are reported by IP.
    - Attributes are strict integers as in Go (``100.0``, ``1e2``, ``"100"`` give 400) and
      additionally must not be negative (400 with a JSON reason); Go accepts negatives.
      ``toxicity`` is unchecked, as in Go. ``slicer`` ``average_size`` 0 counts as 1
      (Go loops forever).
    - ``/metrics`` is always served; the byte counters use Toxiproxy's names and labels
      but update live (Go adds them when a connection closes); two connection series
      are added. ``-proxy-metrics`` / ``-runtime-metrics`` are accepted and change nothing.
    - The upstream is dialled per connection, concurrently, with a timeout
      (``-dial-timeout``, 10 s); a failed dial closes the accepted client (EOF), as in Go.
    - Half-close is propagated (client EOF -> ``shutdown(SHUT_WR)`` upstream and the reply
      still flows back); Go closes both sockets on the first EOF.
    - ``reset_peer`` always ends with RST (SO_LINGER 0 set when it fires), also when added
      to a live connection, and never when its toxicity roll said no (Go issue #603).
      Removing an active ``timeout`` toxic closes its connections (as Go); an inactive
      one (toxicity roll lost) does not.
    - Error bodies are byte-compatible JSON with Go's ``text/plain`` content type; decoder
      details in ``bad request body: ...`` approximate Go's wording. ``/populate`` with
      ``[]`` answers ``{"proxies":null}`` like Go. ``"Logger":{}`` is emitted like Go.
    - ``-seed`` seeds toxicity rolls, jitter and slice sizes (a no-op in Go).
    - Toxicity is rolled per connection and direction when a toxic starts on a link, as
      in Go; adding a toxic does not re-roll the others (Go's splice re-rolls the
      previous stage as a side effect). ``-token`` (or env
      ``CHAOS_PROXY_TOKEN``) requires ``Authorization: Bearer`` on every route; off by
      default because Toxiproxy clients cannot send it.
    - ``/metrics`` also says which toxics are on which proxy and which proxies are
      disabled (``chaos.proxy.chaoswindows``), labelled with the run id a client sends in
      ``X-Chaoslab-Run`` (Toxiproxy ignores the header).
"""

from __future__ import annotations

from chaos.proxy.api import VERSION
from chaos.proxy.server import ProxyServer, main

__all__ = ["VERSION", "ProxyServer", "main"]
