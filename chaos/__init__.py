"""The chaos and observability harness: fault proxy, native stack, experiments, reports."""
