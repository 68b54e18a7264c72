# TicketGuard. The two commands: `make run` (the API on localhost with embedded services) and
# `make test` (the whole suite). Each installs what it needs, once; later runs reuse it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
CONTRACT_ARTIFACT := contracts/build/TicketMarket.json
PYTEST_ARGS ?=

.PHONY: install run test check lint format typecheck unit integration infra e2e contracts \
        bench bench-etl bench-model bench-api bench-coldstart bench-gateway capacity bench-retention bench-ingest bench-siem synth layers model clean

# ---------------------------------------------------------------- installs
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip sync --quiet --python $(PY) requirements/dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed $(CONTRACT_ARTIFACT) pgbouncer monitoring-assets

# PgBouncer (transaction mode) stands in for RDS Proxy in front of the embedded PostgreSQL. From Debian's
# packages, as root; without root and without it, the local stack says how to install it (or to run
# without it: TG_LOCAL_POOLER=off).
.PHONY: pgbouncer
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing pgbouncer"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null; \
	  else echo "note: pgbouncer is not installed (sudo apt-get install pgbouncer); the local stack needs it, or TG_LOCAL_POOLER=off" >&2; fi; }

$(CONTRACT_ARTIFACT): contracts/*.sol contracts/test/*.sol contracts/compile.mjs node_modules/.installed
	node contracts/compile.mjs

contracts: $(CONTRACT_ARTIFACT)

# ---------------------------------------------------------------- the two commands
run: install
	$(VENV)/bin/ticketguard run

# The suite runs every test: the layers and checkov's venv are prerequisites too (see the INFRA room's
# section, where they are defined).
test: install check
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# ---------------------------------------------------------------- checks
check: lint typecheck

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)
integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)
infra: install
	$(PY) -m pytest tests/infra $(PYTEST_ARGS)
e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# ---------------------------------------------------------------- lock files
lock: $(VENV)/.installed
	$(UV) pip compile --quiet pyproject.toml --all-extras --python-version 3.11 -o requirements/dev.txt
	$(UV) pip compile --quiet pyproject.toml --python-version 3.12 --python-platform aarch64-manylinux_2_28 -o requirements/runtime.txt

clean:
	rm -rf cdk.out build contracts/build .pytest_cache .mypy_cache .ruff_cache

# ---------------------------------------------------------------- ML room: toolchain, model, layer, benchmark
# The model libraries are compiled for both Lambda architectures: gcc for x86_64, Debian's cross gcc for
# arm64, qemu-user to run the arm64 build in tests, binutils for the GLIBC symbol check. Only what
# compiles a model needs it (training, the suite, the model benchmark): synth and deploy use the
# committed libraries, and need no apt, no root and no cross compiler.
ML_TOOLCHAIN := gcc gcc-aarch64-linux-gnu binutils binutils-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
.PHONY: toolchain model-layer
model test integration bench-model: toolchain

toolchain:
	@dpkg -s $(ML_TOOLCHAIN) >/dev/null 2>&1 || { \
	  echo "installing the model toolchain: $(ML_TOOLCHAIN)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make toolchain: need root (or sudo) for apt-get" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(ML_TOOLCHAIN); }

# The training gate includes the live-path check (two 49-day replays: the test week, an unseen seed); MODEL_ARGS=--no-live-gate skips it.
MODEL_ARGS ?=
model: install
	$(VENV)/bin/ticketguard train $(MODEL_ARGS)

model-layer: $(VENV)/.installed
	$(PY) layers/model/build.py --arch all --out build/layers/model --zip build/layers/model.zip

bench-model: install
	$(PY) benchmarks/bench_model.py

# ---------------------------------------------------------------- CHAIN room: simulator benchmark
.PHONY: bench-sim
bench-sim: install
	$(PY) benchmarks/bench_simulator.py

# ---------------------------------------------------------------- INFRA room: layers, synth, static checks
# `npx cdk synth` runs `make cdk-app` (cdk.json), so a fresh clone installs and builds what it needs first:
# the Python packages and the layers (pip wheels + the committed model libraries); no root, no apt
# (tests/infra/test_synth_needs.py holds it so).
CDK := JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 npx --no-install cdk
CDK_ENV ?= dev
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
LAYERS_STAMP := build/layers/.built
.PHONY: layers synth cdk-app cfn-lint checkov lock-lambda nag-report reports templates-snapshot cost
lock: lock-lambda

# runtime-x86_64.txt: the x86_64 deps layer; retrain-<arch>.txt: what the retraining build installs on
# CodeBuild before it runs `ticketguard train` (infra/retrain.py), the runtime plus the `ml` extra.
lock-lambda: $(VENV)/.installed
	$(UV) pip compile --quiet pyproject.toml --python-version 3.12 --python-platform x86_64-manylinux_2_28 -o requirements/runtime-x86_64.txt
	$(UV) pip compile --quiet pyproject.toml --extra ml -c requirements/dev.txt --python-version 3.12 --python-platform aarch64-manylinux_2_28 -o requirements/retrain-arm64.txt
	$(UV) pip compile --quiet pyproject.toml --extra ml -c requirements/dev.txt --python-version 3.12 --python-platform x86_64-manylinux_2_28 -o requirements/retrain-x86_64.txt

# Both architectures, no Docker: pip --platform wheels (deps) + the ML room's model layer recipe.
$(LAYERS_STAMP): requirements/runtime.txt requirements/runtime-x86_64.txt layers/build.py layers/bytecode.py $(wildcard layers/model/build.py) $(wildcard model_artifacts/CURRENT) | $(VENV)/.installed
	$(PY) layers/build.py --arch all
	@touch $@

layers: $(VENV)/.installed
	$(PY) layers/build.py --arch all
	@touch $(LAYERS_STAMP)

cdk-app: $(VENV)/.installed $(LAYERS_STAMP)
	@JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(PY) app.py

synth: $(VENV)/.installed node_modules/.installed $(LAYERS_STAMP)
	$(CDK) synth -c env=$(CDK_ENV) --quiet

# dev and prod templates as sorted JSON, asset hashes masked, for `diff -r` against another commit's
# (infra/snapshot_templates.py says how to snapshot a worktree). No layer build needed.
TEMPLATES_DIR ?= build/templates
templates-snapshot: $(VENV)/.installed
	$(PY) infra/snapshot_templates.py $(TEMPLATES_DIR)

# The monthly cost of dev and prod at the spec's traffic, priced from the synthesized templates
# (infra/cost_report.py; unit prices in infra/cost_prices.py): prints it and rewrites docs/deploy.md's table.
cost: $(VENV)/.installed
	@JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(PY) infra/cost_report.py --write-readme docs/deploy.md

cfn-lint: synth
	@mkdir -p reports
	@$(VENV)/bin/cfn-lint --format parseable cdk.out/*.template.json > reports/cfn-lint.txt; \
	  echo "cfn-lint: $$(grep -c ":E[0-9]" reports/cfn-lint.txt) errors, $$(grep -c ":W[0-9]" reports/cfn-lint.txt) warnings -> reports/cfn-lint.txt"; \
	  ! grep -q ":E[0-9]" reports/cfn-lint.txt

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@touch $@

# `make test` runs every test, the layers' and checkov's included (in CI a test that finds them missing
# fails: tests/fixtures/environment.py): both are prerequisites of the suite, built once.
test: $(LAYERS_STAMP) $(CHECKOV_VENV)/.installed

checkov: synth $(CHECKOV_VENV)/.installed
	$(PY) infra/checkov_report.py --checkov $(CHECKOV_VENV)/bin/checkov --templates cdk.out --out reports/checkov.md

nag-report: $(VENV)/.installed
	@JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(PY) infra/nag_report.py --env dev --out reports/cdk-nag.md
	@JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(PY) infra/nag_report.py --env prod --out reports/cdk-nag-prod.md

# All three reports of reports/: cdk-nag acknowledgments, cfn-lint, checkov.
reports: nag-report cfn-lint checkov

# ---------------------------------------------------------------- API room: scoring API benchmark
# In-process handler latency over 10,000 requests, then HTTP through the local gateway at a fixed
# offered load (500 requests/s) from a separate load-generating process; prints the comparison.
bench-api: install
	$(PY) benchmarks/bench_api.py

# The scoring function's import time (a cold start's share before its first request), median of fresh
# interpreters, against the commit before issue 29 in the same run (BENCH_COLDSTART_ARGS: --tracing, --runs N).
bench-coldstart: install $(LAYERS_STAMP)
	$(PY) benchmarks/bench_coldstart.py $(BENCH_COLDSTART_ARGS)

# The local gateway's saturation throughput and p95 at 500 requests/s, today's server model against the
# pre-forked one, in one run; the load generator in its own process on CPU 1 (docs/performance.md).
BENCH_GATEWAY_ARGS ?=
bench-gateway: install
	$(PY) benchmarks/bench_gateway.py $(BENCH_GATEWAY_ARGS)

# The scoring function's memory sizing and the capacity plan at 100x the spec's traffic, from the measured
# costs and AWS's documented limits: rewrites docs/performance.md's generated block (infra/capacity_report.py).
capacity: $(VENV)/.installed
	@JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(PY) infra/capacity_report.py --write docs/performance.md

# ---------------------------------------------------------------- ETL room: ETL benchmark
# One simulated day of 200,000 marketplace events (synthetic chain) through extract, transform,
# load, features and views, each timed; the load step against row-by-row INSERTs in the same run.
bench-etl: install
	$(PY) benchmarks/bench_etl.py

# ---------------------------------------------------------------- INGEST room: ingest benchmark
# One simulated day of a 200,000-events/day marketplace as its backend's facts, through the ingest queue
# and the consumer's Lambda handler into PostgreSQL (through PgBouncer), against row-by-row inserts of the
# same facts in the same run. BENCH_INGEST_ARGS scales it (e.g. --events-per-day 50000).
BENCH_INGEST_ARGS ?=
bench-siem: install
	$(PY) benchmarks/bench_siem.py

bench-ingest: install
	$(PY) benchmarks/bench_ingest.py $(BENCH_INGEST_ARGS)

# ---------------------------------------------------------------- ML room: the model on the live path
# Issue 23's matrix: simulated marketplaces (ages 7/35/90 days x 200/900/3,000 purchases a day, and three
# seeds at 35 days x 900) replayed through the ingest consumer, the scheduled jobs and the scoring
# handler in simulated time; detection and FPR per band and scenario against the simulator's truth,
# beside the served version's offline report: reports/live-path/<version>/. BENCH_DETECTION_ARGS narrows
# it (e.g. --ages 7 --volumes 200). One world: `ticketguard evaluate live --seed S --days D --per-day N`.
.PHONY: bench-detection
BENCH_DETECTION_ARGS ?=
bench-detection: install
	$(VENV)/bin/ticketguard evaluate matrix $(BENCH_DETECTION_ARGS)

# ---------------------------------------------------------------- RETENTION room: archive benchmark
# Transaction logs of a 200,000-events/day marketplace archived by the real code path (write, read back,
# verify, delete) to a local archive root: rows/s with the old v1 field cipher (baseline) and with AES-SIV
# (issue 21), archive vs PostgreSQL bytes, and one month dropped by row DELETE vs DETACH + DROP PARTITION,
# in one run. BENCH_RETENTION_ARGS scales it down.
BENCH_RETENTION_ARGS ?=
bench-retention: install
	$(PY) benchmarks/bench_retention.py $(BENCH_RETENTION_ARGS)

# ---------------------------------------------------------------- MONITORING room: the page's Chart.js and browser
# /admin/monitoring's charts come from the pinned npm package chart.js (package.json), copied next to the
# page's own files (shared/monitoring/static/vendor/, not committed) and served by the API: no CDN. The
# Lambda package takes shared/ whole, so the synth needs the copy too.
MONITORING_VENDOR := shared/monitoring/static/vendor/chart.umd.min.js
.PHONY: monitoring-assets browser
$(MONITORING_VENDOR): node_modules/.installed package-lock.json
	@mkdir -p $(@D)
	cp node_modules/chart.js/dist/chart.umd.min.js $@

monitoring-assets: $(MONITORING_VENDOR)
cdk-app synth: $(MONITORING_VENDOR)

# The page's browser test (tests/e2e/test_monitoring_browser.py) drives Debian's chromium headless. As
# root it is installed here; otherwise, or when apt cannot reach its mirror, this says so and the test
# reports the missing browser (a skip on a laptop, a failure in CI).
BROWSER_PACKAGES := chromium
test e2e: browser
browser:
	@dpkg -s $(BROWSER_PACKAGES) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "note: chromium is not installed (sudo apt-get install chromium); the monitoring page's browser test needs it" >&2; \
	  else echo "installing $(BROWSER_PACKAGES) (the monitoring page's browser test)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } \
	    || echo "note: apt-get could not install chromium; the monitoring page's browser test will say so" >&2; fi; }
