# Entry points for a fresh machine with python3, pip and make (everything goes into .venv):
#   make demo      the loader and the report extra; loads the simulator's demo data into DuckDB
#                  and writes the report
#   make test      the dev lock (tests, lint, type checks, every extra); runs lint, type checks,
#                  the test suite, and the clock-bound tests again a year ahead
#   make install   what `python pipelines/insights.py` needs and nothing else (a cron machine);
#                  EXTRAS adds extras from their locks: make install EXTRAS="postgres report"
# One lock per purpose, resolved together by `make lock` (the same version of a package in
# every lock): requirements.lock (the command), requirements-<extra>.lock (the command plus
# that extra), requirements-dev.lock, requirements-airflow.lock, requirements-dbt.lock. Each install also installs the
# project itself against its lock and runs `pip check`, so pyproject.toml's ranges are checked.
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?=
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# the uv that `make lock` resolves with (scripts/airflow_check.sh installs with the same)
UV_VERSION := 0.13.9
# pyproject's optional dependencies that a user installs (each has requirements-<extra>.lock)
USER_EXTRAS := pandas postgres delta report notebook
# packages dbt pins below the dev lock's versions (python-dateutil<3, pathspec<0.13): the dbt
# lock is resolved against the dev lock without them, every other package as in the dev lock
DBT_OWN_PINS := pathspec python-dateutil

.PHONY: install demo run test lint typecheck pytest pytest-year-ahead bench lock clean airflow-check \
	dbt-check

unknown_extras := $(filter-out $(USER_EXTRAS),$(EXTRAS))
ifneq ($(unknown_extras),)
$(error unknown EXTRAS: $(unknown_extras) (choose from: $(USER_EXTRAS)))
endif

install: $(VENV)/.installed $(foreach extra,$(EXTRAS),$(VENV)/.installed-$(extra))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The lock and the project (editable: the checkout is the code that runs) in one resolve, so a
# pin outside a pyproject range fails the install; then every installed requirement is checked.
# -qq: errors only (setuptools warns on every editable build of a flat layout).
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) install -qq -r requirements.lock --editable .
	$(PIP) check
	touch $@

$(VENV)/.installed-%: requirements-%.lock pyproject.toml | $(BIN)/python
	$(PIP) install -qq -r $< --editable ".[$*]"
	$(PIP) check
	touch $@

demo: $(VENV)/.installed $(VENV)/.installed-report
	$(BIN)/python pipelines/insights.py --demo
	$(BIN)/python pipelines/report.py --demo

run: install
	$(BIN)/python pipelines/insights.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

# The clock-bound tests (marker `clock`) again with "today" a year ahead: the connector and the
# simulator take the same injected instant as now, so none of them may lean on the real date.
pytest-year-ahead: $(VENV)/.installed-dev
	OPENCX_TEST_NOW=$$($(BIN)/python -c 'import datetime as d; print((d.datetime.now(d.UTC) + d.timedelta(days=365)).replace(minute=0, second=0, microsecond=0).isoformat())') \
		$(BIN)/python -m pytest -q -m clock

test: lint typecheck pytest pytest-year-ahead

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Re-resolve every lock: dev first (it holds every extra), then each of the others constrained
# by it, so a package has one version in all of them (tests/test_locks.py checks that).
lock: $(BIN)/uv
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --python-version 3.11 --output-file requirements-dev.lock
	$(BIN)/uv pip compile --quiet pyproject.toml -c requirements-dev.lock --python-version 3.11 --output-file requirements.lock
	$(foreach extra,$(USER_EXTRAS) airflow,$(BIN)/uv pip compile --quiet pyproject.toml --extra $(extra) -c requirements-dev.lock --python-version 3.11 --output-file requirements-$(extra).lock &&) true
	grep -vE '^($(subst $(eval) ,|,$(DBT_OWN_PINS)))==' requirements-dev.lock > $(VENV)/dbt-constraints.txt
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dbt -c $(VENV)/dbt-constraints.txt --python-version 3.11 --output-file requirements-dbt.lock

$(BIN)/uv: | $(BIN)/python
	$(PIP) install --quiet uv==$(UV_VERSION)

clean:
	rm -rf $(VENV) .venv-compat .venv-airflow .venv-dbt dbt/opencx_insights/target \
		dbt/opencx_insights/logs .pytest_cache .mypy_cache .ruff_cache *.egg-info

# The Airflow DAGs in their own environment (`make test` runs it too when CI is set, through
# tests/test_airflow_dag.py; `.ci/run` sets CI).
airflow-check:
	bash scripts/airflow_check.sh

# The dbt package (dbt/opencx_insights) built and tested on DuckDB and PostgreSQL in its own
# environment (`make test` runs it too when CI is set, through tests/test_dbt_package.py).
dbt-check:
	bash scripts/dbt_check.sh
