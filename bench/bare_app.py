"""A bare FastAPI app with only ``GET /health/live``, served like the agent.

The bench compares the agent's own ``/health/live`` with this app under the same uvicorn
settings (``agent.main.server_options``): the gap is what the agent's middleware and
wiring cost a request. Run: ``python -m bench.bare_app --port 8099``.
"""

from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.get("/health/live")
async def live() -> dict[str, Any]:
    return {"alive": True}


def main() -> None:
    import uvicorn

    from agent.main import server_options
    from agent.settings import AgentSettings

    parser = argparse.ArgumentParser(prog="python -m bench.bare_app")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    options = server_options(AgentSettings(port=args.port))
    uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
