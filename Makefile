# Two entry points for a fresh machine with python3, pip and make:
#   make demo   installs into .venv, loads the simulator's demo data into DuckDB, writes the report
#   make test   installs into .venv and runs lint, type checks and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo run test lint typecheck pytest bench lock clean airflow-check

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

demo: install
	$(BIN)/python pipelines/insights.py --demo
	$(BIN)/python pipelines/report.py --demo

run: install
	$(BIN)/python pipelines/insights.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

# Re-resolve the pinned versions (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --output-file requirements.lock
	uv pip compile pyproject.toml --extra airflow -c requirements.lock --python-version 3.11 --output-file requirements-airflow.lock

clean:
	rm -rf $(VENV) .venv-compat .venv-airflow .pytest_cache .mypy_cache .ruff_cache

# The Airflow DAGs in their own environment (also run by `make test` when CI is set).
airflow-check:
	bash scripts/airflow_check.sh
