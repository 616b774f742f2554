"""Live Prometheus metrics of the fault proxy, rendered in the text exposition format.

Toxiproxy 2.12 names and labels are kept for the two byte counters
(``toxiproxy_proxy_received_bytes_total`` and ``toxiproxy_proxy_sent_bytes_total`` with
``direction``, ``listener``, ``proxy`` and ``upstream``). Unlike Toxiproxy, which adds the
bytes only when a connection closes, these counters move while data flows. Two extra
series count connections. Like a Prometheus CounterVec, a label set is never dropped,
so counters stay monotonic when a proxy is deleted or moves to another address.
"""

from __future__ import annotations

from collections.abc import Iterable


class Cell:
    """One mutable sample value; the data plane bumps ``value`` directly (cheap)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


BytesKey = tuple[str, str, str, str]  # direction, listener, proxy, upstream
ConnKey = tuple[str, str, str]  # listener, proxy, upstream

_BYTES_HELP = {
    "toxiproxy_proxy_received_bytes_total": "Bytes read from the source side of a proxy link.",
    "toxiproxy_proxy_sent_bytes_total": "Bytes written to the destination side of a proxy link.",
}


class ProxyMetrics:
    """Counters and gauges for every proxy, keyed by their label values."""

    def __init__(self) -> None:
        self._received: dict[BytesKey, Cell] = {}
        self._sent: dict[BytesKey, Cell] = {}
        self._accepted: dict[ConnKey, Cell] = {}
        self._active: dict[ConnKey, Cell] = {}

    def link_cells(
        self, direction: str, listener: str, proxy: str, upstream: str
    ) -> tuple[Cell, Cell]:
        """The (received, sent) byte counters of one link direction."""
        key = (direction, listener, proxy, upstream)
        return (
            self._received.setdefault(key, Cell()),
            self._sent.setdefault(key, Cell()),
        )

    def connection_cells(self, listener: str, proxy: str, upstream: str) -> tuple[Cell, Cell]:
        """The (accepted total, currently active) connection counters of a proxy."""
        key = (listener, proxy, upstream)
        return self._accepted.setdefault(key, Cell()), self._active.setdefault(key, Cell())

    def render(self) -> str:
        """All series in Prometheus text format 0.0.4."""
        lines: list[str] = []
        for name, cells in (
            ("toxiproxy_proxy_received_bytes_total", self._received),
            ("toxiproxy_proxy_sent_bytes_total", self._sent),
        ):
            lines += _family(name, "counter", _BYTES_HELP[name])
            lines += _samples(name, ("direction", "listener", "proxy", "upstream"), cells.items())
        lines += _family(
            "toxiproxy_proxy_connections_total",
            "counter",
            "Client connections accepted by a proxy.",
        )
        lines += _samples(
            "toxiproxy_proxy_connections_total",
            ("listener", "proxy", "upstream"),
            self._accepted.items(),
        )
        lines += _family(
            "toxiproxy_proxy_active_connections",
            "gauge",
            "Client connections currently open through a proxy.",
        )
        lines += _samples(
            "toxiproxy_proxy_active_connections",
            ("listener", "proxy", "upstream"),
            self._active.items(),
        )
        return "\n".join(lines) + "\n"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _samples(
    name: str, labels: tuple[str, ...], items: Iterable[tuple[tuple[str, ...], Cell]]
) -> list[str]:
    out = []
    for key, cell in sorted(items, key=lambda item: item[0]):
        pairs = ",".join(
            f'{label}="{_escape(value)}"' for label, value in zip(labels, key, strict=True)
        )
        out.append(f"{name}{{{pairs}}} {cell.value}")
    return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
