"""Operator inspections of a running stack: ``chaoslab inspect cache | db | pools``.

Each of ``cache.inspect_cache``, ``db.inspect_db`` and ``pools.inspect_pools`` returns a
``report.Report`` (checks against thresholds, figures, recommendations) that renders as a
table, JSON or Prometheus text; ``seed.seed_audit`` fills the audit log so the index checks
can be shown at scale. See docs/troubleshooting.md. Nothing is imported here, so that
building the chaoslab parser stays fast.
"""
