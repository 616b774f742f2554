"""Two-sample statistics for comparing a window with a fault against one without.

Latency: the Hodges-Lehmann estimate of the shift (the median of every pairwise
difference) with its distribution-free confidence interval, and the Mann-Whitney U test
(scipy). Ratios (errors, degraded replies): the difference of two proportions with
Newcombe's hybrid score interval, and Fisher's exact test (scipy). Both intervals are
for "window B minus window A".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Shift:
    """How far B lies from A: an estimate, its interval, and a two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float
    n_a: int
    n_b: int


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def hodges_lehmann(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Shift:
    """Shift of ``b`` against ``a`` (Hodges-Lehmann) with its confidence interval.

    The interval runs from the k-th smallest to the k-th largest pairwise difference,
    with k from the normal approximation of the Mann-Whitney statistic's distribution
    (the usual choice once each sample has a few tens of values; callers refuse smaller
    ones). Ties need no special case: they are equal differences.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one value")
    diffs = np.sort((y[None, :] - x[:, None]).ravel())
    half_width = _z(confidence) * math.sqrt(n * m * (n + m + 1) / 12)
    k = max(0, math.floor(n * m / 2 - half_width))
    low, high = float(diffs[k]), float(diffs[len(diffs) - 1 - k])
    p_value = float(stats.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    return Shift(float(np.median(diffs)), low, high, p_value, n, m)


def _wilson(successes: int, total: int, z: float) -> tuple[float, float]:
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def proportion_difference(
    x_a: int, n_a: int, x_b: int, n_b: int, confidence: float = 0.95
) -> Shift:
    """``x_b / n_b - x_a / n_a`` with Newcombe's hybrid score interval and Fisher's p."""
    if n_a == 0 or n_b == 0:
        raise ValueError("both samples need at least one value")
    z = _z(confidence)
    p_a, p_b = x_a / n_a, x_b / n_b
    l_a, u_a = _wilson(x_a, n_a, z)
    l_b, u_b = _wilson(x_b, n_b, z)
    delta = p_b - p_a
    low = delta - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2)
    high = delta + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2)
    table = [[x_b, n_b - x_b], [x_a, n_a - x_a]]
    p_value = float(stats.fisher_exact(table).pvalue)
    return Shift(delta, low, high, p_value, n_a, n_b)


def classify(shift: Shift, max_increase: float | None, min_increase: float | None) -> str:
    """PASS, DEGRADED or IMPROVED: where the interval lies against the tolerance.

    With ``max_increase`` (a rise the claim tolerates) the comparison passes only when the
    whole interval stays at or below it; an interval entirely below zero is IMPROVED.
    With ``min_increase`` (a rise the fault must cause) it is DEGRADED, as expected, only
    when the whole interval lies at or above it.
    """
    if min_increase is not None:
        return "DEGRADED" if shift.low >= min_increase else "PASS"
    if shift.high < 0:
        return "IMPROVED"
    assert max_increase is not None
    return "PASS" if shift.high <= max_increase else "DEGRADED"
