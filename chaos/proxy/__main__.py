"""``python -m chaos.proxy``: run the Toxiproxy-compatible server."""

from __future__ import annotations

import sys

from chaos.proxy.server import main

sys.exit(main())
