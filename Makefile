PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench bench-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	$(BIN)/alertrouter serve --config routing.yaml --host 127.0.0.1 --port 7071 --data-dir .data

# The console's browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) node_modules/.installed $(CHROMIUM)
	$(BIN)/python -m pytest -q

BENCH_N ?= 2000
# the storm on the shipped routing.yaml, and the issue's targets table at the end of the first line
BENCH_STORM_NS ?= 2000,20000

BENCH_AZURE_N ?= 500

bench: $(STAMP) node_modules/.installed
	$(BIN)/python benchmarks/throughput.py --n $(BENCH_N) --workload all --connections 1,8 --target all --scaling $(BENCH_STORM_NS)
	$(BIN)/python benchmarks/throughput.py --n $(BENCH_AZURE_N) --workload all --connections 1 --target ours --store azure
	$(BIN)/python benchmarks/azure_path.py --n $(BENCH_AZURE_N)
	$(BIN)/python benchmarks/routing_core.py
	$(BIN)/python benchmarks/console_events.py
	$(BIN)/python benchmarks/big_batch.py
	$(BIN)/python benchmarks/replay.py

# Debian's Alertmanager, for the side-by-side runs of `make bench` (skipped when it is absent)
bench-deps:
	command -v prometheus-alertmanager >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager)

check: $(STAMP)
	$(BIN)/alertrouter check routing.yaml

clean:
	rm -rf $(VENV) .venv-checkov node_modules .data .pytest_cache
