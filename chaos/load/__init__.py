"""Load generation for the agent: guest conversations, shapes, thresholds, fault schedules.

Nothing in this package imports Locust except ``chaos.load.locust_hooks``, which only the
locustfiles in ``loadtests/`` import: Locust monkey-patches the whole process with gevent,
so tests and the experiment runner drive Locust as a subprocess (``chaos.load.runner``).
"""
