# riskloop — the commands a newcomer types. Each target installs what it needs first.
PYTHON ?= python3
PYTEST  = $(PYTHON) -m pytest

.PHONY: deps demo test test-fast bench lint fmt dashboards

deps:
	@PYTHON=$(PYTHON) ./scripts/install-deps.sh

demo: deps  ## the main job: embedded broker + Redis + worker + API, a simulated week replayed
	$(PYTHON) -m riskloop.cli demo $(DEMO_ARGS)

test: deps  ## every test: unit, integration (Tansu, Apache Kafka, Redis, Prometheus), end to end
	$(PYTEST) -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: deps  ## skip the slow suites (worker start-ups, Apache Kafka)
	$(PYTEST) -q -m "not slow" $(PYTEST_ARGS)

bench: deps  ## throughput figures (printed, never asserted): worker, rule engine, clue queue
	$(PYTHON) -m riskloop.cli bench $(BENCH_ARGS)
	$(PYTHON) -m rules.tools.bench $(RULES_BENCH_ARGS)
	$(PYTHON) -m riskloop.bench_clues $(CLUES_BENCH_ARGS)
	$(PYTHON) -m riskloop.bench_files $(FILES_BENCH_ARGS)

lint: deps
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

fmt: deps
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

dashboards: deps  ## rebuild dashboards/*.json from the code in dashboards/
	$(PYTHON) -m dashboards.build
