"""A lint for the Grafana dashboards: what makes a panel wrong before anyone looks at it.

- the data source is the ``${datasource}`` variable everywhere (panels, targets,
  annotations), so a dashboard imports into any Grafana;
- every range in a rate, increase or other range function is ``$__rate_interval``
  (``$__range`` is allowed in ``increase`` for "in range" totals), so a panel never
  shows gaps when the scrape interval changes;
- every panel has a unit and at least one query;
- every dashboard carries the ``Chaos windows`` annotation, enabled and toggleable.

With a live Prometheus, ``lint_live`` adds: no panel without a query that returns data.
``python -m chaos.dashboards.lint [--prometheus URL]`` prints the problems (exit 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from chaos.dashboards import DashboardError
from chaos.dashboards.promql import (
    iter_panels,
    load_dashboards,
    panel_queries,
    substitute,
    template_variables,
    tokenize,
)
from chaos.dashboards.windows import CHAOS_ANNOTATION, CHAOS_SERIES

DATASOURCE_UID = "${datasource}"
RATE_INTERVAL = "$__rate_interval"


def ranges(expr: str) -> list[tuple[str, str]]:
    """Each range selector of ``expr`` as (innermost function, range text)."""
    tokens = tokenize(expr)
    stack: list[str] = []
    found = []
    i = 0
    while i < len(tokens):
        text = tokens[i][1]
        if text == "(":
            previous = tokens[i - 1] if i else ("", "")
            stack.append(previous[1] if previous[0] == "ident" else "")
        elif text == ")" and stack:
            stack.pop()
        elif text == "[":
            end = next(j for j in range(i, len(tokens)) if tokens[j][1] == "]")
            found.append((stack[-1] if stack else "", "".join(t for _, t in tokens[i + 1 : end])))
            i = end
        i += 1
    return found


def _datasource_ok(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("uid") == DATASOURCE_UID


def lint(dashboard: Mapping[str, Any]) -> list[str]:
    """Problems of one dashboard, each naming where it is (empty: clean)."""
    uid = dashboard.get("uid", "?")
    problems = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append(f"{uid}: no templated data source variable named datasource")
    for panel in iter_panels(dashboard):
        where = f"{uid}/{panel.get('title')}"
        if not _datasource_ok(panel.get("datasource")):
            problems.append(f"{where}: data source is not {DATASOURCE_UID}")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: no unit")
        targets = [t for t in panel.get("targets", []) if str(t.get("expr", "")).strip()]
        if not targets:
            problems.append(f"{where}: no query")
        for target in targets:
            if not _datasource_ok(target.get("datasource")):
                ref = target.get("refId")
                problems.append(f"{where}/{ref}: data source is not {DATASOURCE_UID}")
    for query in panel_queries(dashboard):
        for function, window in ranges(query.expr):
            allowed = {RATE_INTERVAL} | ({"$__range"} if function == "increase" else set())
            if window not in allowed:
                problems.append(
                    f"{uid}/{query.panel_title}/{query.ref_id}: {function}(...[{window}]) "
                    f"should use [{RATE_INTERVAL}]"
                )
    annotations = [a for a in dashboard.get("annotations", {}).get("list", []) if a.get("expr")]
    for annotation in annotations:
        where = f"{uid}/annotation {annotation.get('name')}"
        if not _datasource_ok(annotation.get("datasource")):
            problems.append(f"{where}: data source is not {DATASOURCE_UID}")
        for function, window in ranges(str(annotation["expr"])):
            if window != RATE_INTERVAL:
                problems.append(f"{where}: {function}(...[{window}]) should use [{RATE_INTERVAL}]")
    chaos = [a for a in annotations if a.get("name") == CHAOS_ANNOTATION]
    if len(chaos) != 1:
        problems.append(f"{uid}: needs exactly one {CHAOS_ANNOTATION!r} annotation")
    elif not (chaos[0].get("enable") is True and chaos[0].get("hide") is False):
        problems.append(f"{uid}: the {CHAOS_ANNOTATION!r} annotation must be on and toggleable")
    elif not all(series in chaos[0]["expr"] for series in CHAOS_SERIES):
        problems.append(f"{uid}: the {CHAOS_ANNOTATION!r} annotation must read {CHAOS_SERIES}")
    return problems


def lint_live(client: Any, dashboard: Mapping[str, Any], rate_interval: str = "30s") -> list[str]:
    """Panels none of whose queries returns data now (``client``: a PrometheusClient)."""
    variables = template_variables(dashboard)
    answered: dict[int, bool] = {}
    titles: dict[int, str] = {}
    for query in panel_queries(dashboard):
        titles[query.panel_id] = query.panel_title
        expr = substitute(query.expr, variables, rate_interval=rate_interval, interval="2s")
        try:
            has_data = bool(client.query(expr))
        except DashboardError:
            has_data = False
        answered[query.panel_id] = answered.get(query.panel_id, False) or has_data
    uid = dashboard.get("uid", "?")
    return [f"{uid}/{titles[pid]}: no query returns data" for pid, ok in answered.items() if not ok]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.dashboards.lint", description=__doc__)
    parser.add_argument("--prometheus", help="also check that every panel has data there")
    args = parser.parse_args(argv)
    problems = [p for d in load_dashboards() for p in lint(d)]
    if args.prometheus:
        from chaos.dashboards.render import PrometheusClient

        with PrometheusClient(args.prometheus) as client:
            problems += [p for d in load_dashboards() for p in lint_live(client, d)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
