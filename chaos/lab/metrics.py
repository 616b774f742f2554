"""Counters and gauges out of a sampled metric timeline (columns t, metric, labels, value).

Counters are read as increases since the first sample, the way Prometheus' ``increase()``
reads them: a labelled counter that appears after the first sample started at 0, and a
drop is a restart. Ratios over a trailing window come from those increases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from chaos.report.charts import parse_labels


def _matches(key: str, labels: dict[str, str]) -> bool:
    have = parse_labels(key)
    return all(have.get(k) == v for k, v in labels.items())


def increase(
    timeline: pd.DataFrame, metric: str, by: str | None = None, **labels: str
) -> pd.DataFrame:
    """Cumulative increase of ``metric`` (label sets matching ``labels``), one column per ``by``.

    Indexed by every sample time of the timeline; empty when the metric never appeared.
    """
    times = np.sort(timeline["t"].unique())
    rows = timeline[timeline["metric"] == metric]
    rows = rows[[_matches(k, labels) for k in rows["labels"]]] if labels else rows
    if rows.empty or len(times) == 0:
        return pd.DataFrame(index=pd.Index(times, name="t"))
    first_t = float(times[0])
    columns: dict[str, pd.Series] = {}
    for key, group in rows.groupby("labels"):
        s = group.groupby("t")["value"].last().sort_index()
        if float(s.index[0]) > first_t:
            s = pd.concat([pd.Series([0.0], index=[first_t]), s])
        step = s.diff().fillna(0.0)
        step[step < 0] = s[step < 0]
        total = step.cumsum().reindex(times).ffill().fillna(0.0)
        name = parse_labels(str(key)).get(by, "") if by else metric
        columns[name] = columns[name] + total if name in columns else total
    out = pd.DataFrame(columns)
    out.index.name = "t"
    return out


def total_increase(timeline: pd.DataFrame, metric: str, **labels: str) -> float:
    """How much ``metric`` (summed over matching label sets) grew over the whole timeline."""
    inc = increase(timeline, metric, **labels)
    return float(inc.iloc[-1].sum()) if len(inc.columns) and len(inc) else 0.0


def gauge(timeline: pd.DataFrame, metric: str, **labels: str) -> pd.Series:
    """A gauge summed over matching label sets, indexed by sample time."""
    rows = timeline[timeline["metric"] == metric]
    rows = rows[[_matches(k, labels) for k in rows["labels"]]] if labels else rows
    return rows.groupby("t")["value"].sum().sort_index()


def window_ratio(hits: pd.Series, misses: pd.Series, window_s: float) -> pd.Series:
    """hits / (hits + misses) over the trailing ``window_s`` seconds; NaN without lookups."""
    both = pd.concat([hits.rename("h"), misses.rename("m")], axis=1).sort_index().ffill().fillna(0)
    steps = both.diff().fillna(0.0)
    steps.index = pd.to_timedelta(steps.index, unit="s")
    summed = steps.rolling(f"{window_s:g}s").sum()
    lookups = summed["h"] + summed["m"]
    ratio = summed["h"] / lookups.where(lookups > 0)
    ratio.index = both.index
    return ratio


def hit_counts(timeline: pd.DataFrame, kind: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Cumulative PMS cache hits and misses (of one ``kind``, or all), over the timeline."""
    labels = {"kind": kind} if kind else {}
    hits = increase(timeline, "pms_cache_hits_total", **labels)
    misses = increase(timeline, "pms_cache_misses_total", **labels)
    index = pd.Index(np.sort(timeline["t"].unique()), name="t")
    h = hits.sum(axis=1).reindex(index).fillna(0.0) if len(hits.columns) else pd.Series(0.0, index)
    m = (
        misses.sum(axis=1).reindex(index).fillna(0.0)
        if len(misses.columns)
        else pd.Series(0.0, index)
    )
    return h, m
