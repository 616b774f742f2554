"""Listen addresses: parsing, resolving, binding and reporting them as Toxiproxy does.

- ``localhost:P`` and other names resolve (IPv4 preferred) and are reported by IP.
- ``0.0.0.0:P``, ``:P`` and ``[::]:P`` bind every interface (one dual-stack socket when
  IPv6 exists) and are reported as ``[::]:P``, exactly like Go.
- An empty listen binds ``127.0.0.1`` on a free port (Toxiproxy binds every interface);
  loopback by default is a project rule, and the port is still reported.
- Errors carry Go's ``net.Listen`` wording, e.g.
  ``listen tcp 127.0.0.1:3310: bind: address already in use``.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from dataclasses import dataclass

from chaos.proxy.exceptions import ListenError

RESOLVE_TIMEOUT = 5.0
BACKLOG = 1024
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class ListenAddress:
    """A resolved listen address: ``host`` is an IP literal, or "" for every interface."""

    host: str
    port: int

    @property
    def wildcard(self) -> bool:
        return self.host in WILDCARDS

    def display(self, port: int | None = None, dual_stack: bool = True) -> str:
        """The ``listen`` string Toxiproxy would report for this address."""
        port = self.port if port is None else port
        if self.wildcard:
            return f"[::]:{port}" if dual_stack else f"0.0.0.0:{port}"
        if ":" in self.host:
            return f"[{self.host}]:{port}"
        return f"{self.host}:{port}"


def _addr_error(address: str, reason: str) -> ListenError:
    return ListenError(f"listen tcp: address {address}: {reason}")


def split_host_port(address: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error texts (wrapped as ListenError)."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise _addr_error(address, "missing ']' in address")
        if end + 1 == len(address) or address[end + 1] != ":":
            raise _addr_error(address, "missing port in address")
        host, port = address[1:end], address[end + 2 :]
        if "[" in host or "]" in host:
            raise _addr_error(address, "unexpected '[' in address")
        return host, port
    host, sep, port = address.rpartition(":")
    if not sep:
        raise _addr_error(address, "missing port in address")
    if ":" in host:
        raise _addr_error(address, "too many colons in address")
    if "[" in host or "]" in host:
        raise _addr_error(address, "unexpected '[' in address")
    return host, port


def _parse_port(port: str) -> int:
    if port == "":
        return 0
    if port.isdigit():
        if int(port) > 65535:
            raise _addr_error(port, "invalid port")
        return int(port)
    if port.startswith(("-", "+")) and port[1:].isdigit():
        raise _addr_error(port, "invalid port")
    try:
        return socket.getservbyname(port, "tcp")
    except OSError:
        raise ListenError(f"listen tcp: lookup tcp/{port}: unknown port") from None


async def resolve(listen: str) -> ListenAddress:
    """Resolve a listen string without binding it; raises ListenError (HTTP 500)."""
    if listen == "":
        return ListenAddress("127.0.0.1", 0)
    host, port_text = split_host_port(listen)
    port = _parse_port(port_text)
    if host in WILDCARDS:
        return ListenAddress("", port)
    try:
        return ListenAddress(str(ipaddress.ip_address(host.split("%")[0])), port)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        raise ListenError(f"listen tcp: lookup {host}: no such host") from None
    ipv4 = [info[4][0] for info in infos if info[0] == socket.AF_INET]
    ipv6 = [info[4][0] for info in infos if info[0] == socket.AF_INET6]
    chosen = (ipv4 or ipv6 or [None])[0]
    if chosen is None:
        raise ListenError(f"listen tcp: lookup {host}: no such host")
    return ListenAddress(str(chosen), port)


def bind(address: ListenAddress) -> tuple[socket.socket, str]:
    """Bind and listen (SO_REUSEADDR, non-blocking); returns the socket and its listen string."""
    if address.wildcard:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            bind_to: tuple[str, int] = ("::", address.port)
            dual_stack = True
        except OSError:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            bind_to, dual_stack = ("0.0.0.0", address.port), False
        shown = f":{address.port}"
    else:
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        bind_to, dual_stack = (address.host, address.port), True
        shown = address.display()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(bind_to)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(f"listen tcp {shown}: bind: {_go_strerror(exc)}") from None
    port = int(sock.getsockname()[1])
    return sock, address.display(port, dual_stack=dual_stack)


def _go_strerror(exc: OSError) -> str:
    text = exc.strerror or (errno.errorcode.get(exc.errno or 0) or str(exc))
    return text[:1].lower() + text[1:]


def split_upstream(upstream: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too) for dialling; ValueError when malformed."""
    host, sep, port = upstream.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"dial tcp: address {upstream}: missing or invalid port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "127.0.0.1", int(port)
