"""Breaker listeners: metrics come from here, never from business code."""

from __future__ import annotations

from collections.abc import Callable

import pybreaker

from agent.metrics import BREAKER_STATE_VALUE, AgentMetrics


def state_name(state: pybreaker.CircuitBreakerState | None) -> str:
    return state.name if state is not None else "none"


class MetricsListener(pybreaker.CircuitBreakerListener):
    """Exports ``circuit_breaker_state`` and ``circuit_breaker_transitions_total``."""

    def __init__(self, metrics: AgentMetrics) -> None:
        self._metrics = metrics

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        name = cb.name or "unnamed"
        value = BREAKER_STATE_VALUE[new_state.name]
        self._metrics.breaker_state.labels(breaker=name).set(value)
        if name == "audit":
            self._metrics.audit_breaker_state.set(value)
        if old_state is not None and old_state.name == new_state.name:
            # pybreaker re-opens an open breaker when a call that began while it was closed
            # fails late (concurrent calls): the timer restarts, the state does not change.
            return
        self._metrics.breaker_transitions.labels(
            breaker=name, from_state=state_name(old_state), to_state=new_state.name
        ).inc()


class OnOpen(pybreaker.CircuitBreakerListener):
    """Calls ``callback(breaker_name)`` each time a breaker opens (used to raise alerts)."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self._callback = callback

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self._callback(cb.name or "unnamed")
