# The README's two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DBT_SEND_ANONYMOUS_USAGE_STATS = false
export DAGSTER_DISABLE_TELEMETRY = true
export GX_ANALYTICS_ENABLED = false
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test install lint format bench dagster clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (Python 3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run the whole night on the bundled sample inbox (generated on first run)
run: $(STAMP)
	$(BIN)/arw nightly --as-of 2026-10-31

## run the tests
test: $(STAMP)
	$(BIN)/ruff check pipelines tests
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipelines tests

format: $(STAMP)
	$(BIN)/ruff format pipelines tests

## speed and quality numbers as tables (results go to docs/benchmarks.md); e.g.
## make bench BENCH_ARGS="--only scale --sizes S,M,L"
bench: $(STAMP)
	$(BIN)/python -m pipelines.bench $(BENCH_ARGS)

dagster: $(STAMP)
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf warehouse data/sample dbt_project/target dbt_project/logs
