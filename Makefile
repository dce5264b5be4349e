# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
export MIRA_HOME ?= $(CURDIR)/.mira
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: demo test bootstrap manifest clean

bootstrap: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

# The dbt manifest is a build product (Dagster reads it at load), never made at import time.
manifest: $(STAMP)
	cd dbt_project && DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY=parse-only ../$(BIN)/dbt parse --quiet --profiles-dir .

demo: manifest
	$(BIN)/mira generate --tenants 5 --days 365 --seed 42 --out $(MIRA_HOME)/landing
	$(BIN)/mira run
	$(BIN)/mira users demo
	$(BIN)/mira serve

test: manifest
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf .mira dbt_project/target dbt_project/logs
