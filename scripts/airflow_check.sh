#!/usr/bin/env bash
# Checks dags/opencx_insights.py in a real Airflow 3, in its own venv (Airflow's pins conflict
# with the main one): builds .venv-airflow from requirements-airflow.lock (again only when the
# lock changed), then runs scripts/airflow_check.py there, which migrates a SQLite metadata DB in
# a temp AIRFLOW_HOME, loads the DagBag and runs the DAGs with `airflow dags test` against the
# bundled simulator. Needs python3 and PyPI. Prints how long each part took.
#   bash scripts/airflow_check.sh            build if needed, then check
#   AIRFLOW_VENV=/path bash scripts/...      use another venv location
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${AIRFLOW_VENV:-.venv-airflow}"
LOCK=requirements-airflow.lock
# uv installs the ~200 locked packages in seconds where pip takes minutes; it comes from PyPI.
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
    echo "airflow check: reusing $VENV (built from this $LOCK)"
else
    echo "airflow check: building $VENV from $LOCK"
    build_venv
fi
built=$(date +%s)
echo "airflow check: environment ready in $((built - started)) s"

status=0
"$VENV/bin/python" scripts/airflow_check.py || status=$?
echo "airflow check: checks took $(($(date +%s) - built)) s (exit $status)"
exit "$status"
