#!/usr/bin/env bash
# Checks the dbt package (dbt/opencx_insights) in a real dbt, in its own venv (dbt pins
# python-dateutil and pathspec below the dev lock): builds .venv-dbt from requirements-dbt.lock
# (again only when the lock changed), then runs scripts/dbt_check.py there, which loads the
# bundled simulator with the connector into a fresh DuckDB file and a fresh PostgreSQL database
# and runs `dbt build` and `dbt source freshness` on each. Needs python3 and PyPI (and
# PostgreSQL's initdb/pg_ctl, or OPENCX_TEST_POSTGRES_DSN). Prints how long each part took.
#   bash scripts/dbt_check.sh            build if needed, then check
#   DBT_VENV=/path bash scripts/...      use another venv location
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${DBT_VENV:-.venv-dbt}"
LOCK=requirements-dbt.lock
# the uv `make lock` resolves with (Makefile's UV_VERSION); it comes from PyPI
UV_VERSION=0.13.9
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-$(sha256sum "$LOCK" | cut -c1-16)"

build_venv() {
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -r "$LOCK"
    touch "$STAMP"
}

started=$(date +%s)
if [[ -f "$STAMP" ]]; then
    echo "dbt check: reusing $VENV (built from this $LOCK)"
else
    echo "dbt check: building $VENV from $LOCK"
    build_venv
fi
built=$(date +%s)
echo "dbt check: environment ready in $((built - started)) s"

status=0
"$VENV/bin/python" scripts/dbt_check.py || status=$?
echo "dbt check: checks took $(($(date +%s) - built)) s (exit $status)"
exit "$status"
