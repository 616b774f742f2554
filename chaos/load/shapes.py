"""Load shapes as data: a list of stages, each holding a user count for a while.

The Locust ``LoadTestShape`` classes in ``loadtests/`` are thin wrappers around ``tick``.
``time_scale`` stretches or compresses every stage (0.1 runs a 2-minute step test in 12 s),
so the same shape serves a smoke test and a real run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """Hold ``users`` users for ``duration_s``, starting or stopping ``spawn_rate`` per second."""

    duration_s: float
    users: int
    spawn_rate: float


def steady(users: int = 10, duration_s: float = 60, spawn_rate: float = 2) -> list[Stage]:
    """A constant number of users."""
    return [Stage(duration_s, users, spawn_rate)]


def step(
    start_users: int = 5,
    increment: int = 5,
    steps: int = 4,
    step_s: float = 30,
    spawn_rate: float = 2,
) -> list[Stage]:
    """A staircase: ``start_users``, then ``increment`` more every ``step_s`` seconds."""
    return [Stage(step_s, start_users + i * increment, spawn_rate) for i in range(steps)]


def spike(
    base_users: int = 5,
    peak_users: int = 30,
    warm_s: float = 30,
    spike_s: float = 20,
    recover_s: float = 40,
    spawn_rate: float = 2,
) -> list[Stage]:
    """Calm, a sudden burst (all users arrive within a second), then calm again."""
    return [
        Stage(warm_s, base_users, spawn_rate),
        Stage(spike_s, peak_users, float(peak_users)),
        Stage(recover_s, base_users, float(peak_users)),
    ]


def soak(users: int = 8, duration_s: float = 1800, ramp_s: float = 60) -> list[Stage]:
    """A gentle ramp, then a long plateau that shows leaks, cache churn and TTL effects."""
    return [
        Stage(ramp_s, users, max(users / ramp_s, 0.1)),
        Stage(duration_s, users, max(users / ramp_s, 0.1)),
    ]


def total_duration(stages: list[Stage], time_scale: float = 1.0) -> float:
    return sum(s.duration_s for s in stages) * time_scale


def tick(
    stages: list[Stage], elapsed_s: float, time_scale: float = 1.0
) -> tuple[int, float] | None:
    """``(users, spawn_rate)`` at ``elapsed_s`` into the run, or ``None`` when it is over."""
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    end = 0.0
    for stage in stages:
        end += stage.duration_s * time_scale
        if elapsed_s < end:
            return stage.users, stage.spawn_rate
    return None
