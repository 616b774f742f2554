# hotel-chaos-lab: every entry point a newcomer needs. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Parallel pytest workers; each starts its own servers (a native stack, Redis, PostgreSQL).
TEST_WORKERS ?= 4
FAST_MARKERS := not integration and not chaos and not notebooks and not slow

.PHONY: help setup system-deps test test-fast lint format demo up down status lab load bench calibrate notebooks clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

system-deps:  ## Install redis-server, prometheus, alertmanager, the exporters, ffmpeg and espeak-ng when missing
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[lab,dev]' 2> >(grep -v "is ignored" >&2)
	touch $(STAMP)

setup: system-deps $(STAMP)  ## Create the virtualenv and install everything

test: setup  ## Run the whole pytest suite in parallel (starts its own servers)
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-fast: setup  ## The tests that need no server (about a minute)
	$(BIN)/pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

lint: setup  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup  ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: setup  ## Bring the stack up, talk to the agent, run the catalogue, write reports/index.html
	$(BIN)/python -m chaos.demo

up: setup  ## Start the native stack (state in .state/)
	$(BIN)/chaoslab up

down:  ## Stop every process `make up` started
	$(BIN)/chaoslab down

status:  ## Health and URLs of the running stack
	$(BIN)/chaoslab status

lab: setup  ## JupyterLab on notebooks/ against the native stack (starts it when needed)
	$(BIN)/chaoslab up
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 --no-browser \
		$(if $(filter 0,$(shell id -u)),--allow-root)

notebooks: setup  ## Execute every notebook headless: reports/notebooks/*.ipynb and .html
	$(BIN)/chaoslab up
	MPLBACKEND=Agg $(BIN)/python -m chaos.lab.execute --out reports/notebooks

SCENARIO ?= steady

load: setup  ## Locust scenario headless on the native stack (SCENARIO=steady|step|spike|soak|scheduled_faults)
	$(BIN)/chaoslab up
	$(BIN)/locust --config loadtests/locust.conf -f loadtests/$(SCENARIO).py \
		--csv reports/load/$(SCENARIO) --json-file reports/load/$(SCENARIO) \
		--html reports/load/$(SCENARIO).html

bench: setup  ## Benchmark agent and proxy on the native stack; figures in reports/*.json
	$(BIN)/chaoslab up
	$(BIN)/python -m bench
	$(BIN)/python -m bench.fault_schedule
	$(BIN)/python -m bench.guardrails
	$(BIN)/python -m bench.killed_runner
	$(BIN)/python -m bench.storm

calibrate: setup  ## How often latency comparisons are wrong: 20 runs without a fault, 20 with +50 ms
	$(BIN)/chaoslab up
	$(BIN)/python -m bench.calibrate

clean:  ## Remove the virtualenv, state and reports
	rm -rf $(VENV) .state reports logs
