"""Read the PromQL inside dashboards and rule files, and the metric names inside PromQL.

The metric-name reader is a small tokenizer, not a full PromQL parser: it knows enough
of the grammar (selectors, label matchers, grouping clauses, ranges, functions, keywords)
to list which series an expression selects and with which label matchers. Prometheus
itself remains the judge of whether an expression parses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.dashboards import DashboardError
from chaos.dashboards.assets import GRAFANA_DASHBOARDS_DIR, load_yaml


@dataclass(frozen=True)
class PanelQuery:
    """One query target of one dashboard panel."""

    dashboard_uid: str
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class RuleQuery:
    """The expression of one recording or alerting rule."""

    group: str
    name: str
    kind: str  # "record" or "alert"
    expr: str


@dataclass(frozen=True)
class Selector:
    """A series selector: a metric name and the label names its matchers use."""

    metric: str
    labels: frozenset[str]


def load_dashboards(directory: Path = GRAFANA_DASHBOARDS_DIR) -> list[dict[str, Any]]:
    """Every dashboard JSON file in ``directory``, sorted by file name."""
    dashboards = []
    for path in sorted(directory.glob("*.json")):
        try:
            dashboards.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise DashboardError(f"cannot read dashboard {path}: {exc}") from exc
    return dashboards


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    """Every PromQL target of every panel of ``dashboard``."""
    queries = []
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append(
                    PanelQuery(
                        dashboard_uid=str(dashboard.get("uid")),
                        panel_id=int(panel["id"]),
                        panel_title=str(panel.get("title", "")),
                        ref_id=str(target.get("refId", "")),
                        expr=str(target["expr"]),
                        legend=str(target.get("legendFormat") or ""),
                    )
                )
    return queries


def annotation_queries(dashboard: Mapping[str, Any]) -> list[str]:
    """The PromQL of the dashboard's Prometheus annotations."""
    annotations = dashboard.get("annotations", {}).get("list", [])
    return [str(a["expr"]) for a in annotations if a.get("expr")]


def rule_queries(path: Path) -> list[RuleQuery]:
    """Every rule expression of a Prometheus rule file."""
    doc = load_yaml(path)
    queries = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            kind = "alert" if "alert" in rule else "record"
            queries.append(RuleQuery(group["name"], rule[kind], kind, str(rule["expr"])))
    return queries


def template_variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """The current value of each templating variable (data source variables excluded)."""
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "datasource":
            continue
        current = (var.get("current") or {}).get("value")
        if isinstance(current, list):
            current = "|".join(str(v) for v in current)
        if current is not None:
            values[str(var["name"])] = str(current)
    return values


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute(
    expr: str,
    variables: Mapping[str, str],
    *,
    rate_interval: str = "1m",
    interval: str = "15s",
    range_s: int = 900,
) -> str:
    """Replace Grafana variables (``$job``, ``${job}``, ``$__rate_interval``...) in ``expr``."""
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return variables[name]
        raise DashboardError(f"unknown Grafana variable ${name} in {expr!r}")

    return _VARIABLE.sub(replace, expr)


# --------------------------------------------------------------------- metric names

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
        (?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<variable>\$\{?\w+(?::\w+)?\}?)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@])
    """,
    re.VERBOSE,
)

AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile"}
)
# Aggregation names are reserved words in PromQL, even before "by (...)".
KEYWORDS = AGGREGATIONS | frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


def tokenize(expr: str) -> list[tuple[str, str]]:
    """Split PromQL into (kind, text) tokens, whitespace and comments dropped."""
    tokens = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise DashboardError(f"cannot tokenize PromQL at {expr[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group()))
        pos = match.end()
    return tokens


def _skip_group(tokens: list[tuple[str, str]], start: int, open_: str, close: str) -> int:
    """Index just past the bracket that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i][1] == open_:
            depth += 1
        elif tokens[i][1] == close:
            depth -= 1
            if depth == 0:
                return i + 1
    raise DashboardError(f"unbalanced {open_!r} in PromQL")


def _matcher_labels(tokens: list[tuple[str, str]]) -> frozenset[str]:
    """Label names used in the tokens between a selector's braces."""
    labels = set()
    for i, (kind, text) in enumerate(tokens):
        if kind == "ident" and i + 1 < len(tokens) and tokens[i + 1][1] in ("=", "!=", "=~", "!~"):
            labels.add(text)
    return frozenset(labels)


def selectors(expr: str) -> list[Selector]:
    """Every named series selector in ``expr`` with the labels its matchers use."""
    tokens = tokenize(expr)
    for open_, close in ("()", "{}", "[]"):
        texts = [text for _, text in tokens]
        if texts.count(open_) != texts.count(close):
            raise DashboardError(f"unbalanced {open_!r} in PromQL: {expr!r}")
    found = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "ident" and text in LABEL_LIST_KEYWORDS and following == "(":
            i = _skip_group(tokens, i + 1, "(", ")")
        elif kind == "ident" and text == "offset":
            i += 2
        elif text == "[":
            i = _skip_group(tokens, i, "[", "]")
        elif text == "{":  # a selector without a metric name: only its labels matter
            end = _skip_group(tokens, i, "{", "}")
            found.append(Selector("", _matcher_labels(tokens[i + 1 : end - 1])))
            i = end
        elif kind == "ident" and text not in KEYWORDS and following != "(":
            labels: frozenset[str] = frozenset()
            i += 1
            if following == "{":
                end = _skip_group(tokens, i, "{", "}")
                labels = _matcher_labels(tokens[i + 1 : end - 1])
                i = end
            found.append(Selector(text, labels))
        else:
            i += 1
    return found


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects."""
    return {s.metric for s in selectors(expr) if s.metric}


def grouping_labels(expr: str) -> set[str]:
    """Label names in the expression's by/without/on/ignoring/group_* clauses."""
    tokens = tokenize(expr)
    labels: set[str] = set()
    for i, (kind, text) in enumerate(tokens):
        opens_list = i + 1 < len(tokens) and tokens[i + 1][1] == "("
        if kind == "ident" and text in LABEL_LIST_KEYWORDS and opens_list:
            end = _skip_group(tokens, i + 1, "(", ")")
            labels.update(t for k, t in tokens[i + 2 : end - 1] if k == "ident")
    return labels


def recorded_labels(record: str) -> set[str]:
    """The labels a level:metric:operation name promises, read from its level."""
    return set(record.split(":")[0].split("_")) if record.count(":") == 2 else set()
