"""``python -m chaos.pms_simulator``: serve the simulator (loopback by default)."""

from __future__ import annotations

import sys

from chaos.pms_simulator.server import main

sys.exit(main())
