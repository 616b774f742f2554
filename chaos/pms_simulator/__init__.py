"""A deterministic QloApps-like hotel PMS, plus a WhatsApp Graph API recorder.

Run it with ``python -m chaos.pms_simulator --port 8081`` or build it in-process with
``create_app(api_key, today=...)``. It injects no faults; the fault proxy does.
"""

from __future__ import annotations

from chaos.pms_simulator.app import create_app
from chaos.pms_simulator.server import BackgroundServer

__all__ = ["BackgroundServer", "create_app"]
