"""Users for ``make bench`` (bench/): the agent's cached path and a bare endpoint.

``CachedPathGuest`` asks the same few availability questions with no think time, so
every PMS lookup after the first is a cache hit: the agent's full pipeline (session,
NLP, cache, audit) minus the PMS. ``BareEndpoint`` hits ``GET /health/live`` on the same
server: the ceiling of this load generator against this server configuration.
Pick one with its class name: ``locust -f loadtests/bench_users.py CachedPathGuest``.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from locust import FastHttpUser, constant, task

from chaos.load import locust_hooks
from chaos.load.conversations import cached_turns, check_reply

locust_hooks.install("bench")
_ids = itertools.count()


class CachedPathGuest(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 20.0

    def on_start(self) -> None:
        prefix = self.environment.parsed_options.guest_prefix
        self.guest_id = f"{prefix}-bench-{uuid.uuid4().hex[:8]}-{next(_ids)}"
        self.turns = itertools.cycle(cached_turns(date.today()))

    @task
    def ask(self) -> None:
        turn = next(self.turns)
        body = {"guest_id": self.guest_id, "text": turn.text, "message_id": uuid.uuid4().hex}
        with self.client.post(
            "/api/v1/messages",
            json=body,
            catch_response=True,
            name="POST /api/v1/messages [cached availability]",
            context={"sample": True},
        ) as resp:
            try:
                reply = resp.json()
            except ValueError:
                reply = None
            problem = check_reply(turn, resp.status_code, reply)
            if problem:
                resp.failure(problem)
            else:
                resp.success()


class BareEndpoint(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 20.0

    @task
    def live(self) -> None:
        with self.client.get("/health/live", name="GET /health/live", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
