"""Cloud destinations need no code change, only configuration, and that configuration resolves.

MotherDuck, BigQuery and Snowflake cannot be reached from here (no account), so these tests do
everything short of connecting: build the pipeline with the destination, resolve its
configuration from the TOML blocks of docs/warehouses.md (written to a project's
`.dlt/secrets.toml`) and from environment variables in dlt's naming, and check that a
destination whose client library is not installed is refused in one line before any request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.opencx_simulator import Simulator
from tests.cron_support import ROOT, cli_env, only_line, run_cli
from tests.docs_support import section
from tests.helpers import insight_requests
from tests.warehouse_config_probe import resolved

CLIENT_LIBRARIES = {"bigquery": "google.cloud.bigquery", "snowflake": "snowflake.connector"}


def documented_blocks() -> dict[str, str]:
    """The documented TOML block per destination; `filesystem-delta` is the Delta one."""
    blocks: dict[str, str] = {}
    destinations = section("warehouses", "Destinations")
    for block in re.findall(r"```toml\n(.*?)```", destinations, flags=re.DOTALL):
        (name,) = tomllib.loads(block)["destination"]
        key = name
        if name == "filesystem":
            key = "filesystem-delta" if "table_format" in block else "filesystem-parquet"
        assert key not in blocks, f"two documented blocks for {key}"
        blocks[key] = block
    return blocks


def probe_in_project(tmp_path: Path, name: str, secrets: str) -> dict[str, Any]:
    """Resolve `name` in a fresh process whose project's `.dlt/secrets.toml` is `secrets`."""
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "secrets.toml").write_text(secrets, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_", "CREDENTIALS__"))
    }
    env |= {
        "DLT_PROJECT_DIR": str(project),
        "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.warehouse_config_probe", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probed: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return probed


def assert_configured(probed: dict[str, Any], section: dict[str, Any]) -> None:
    """Every value the TOML section sets is in the resolved configuration."""
    assert probed["resolved"] is True
    for key, value in section.items():
        if key == "credentials":
            for cred_key, cred_value in value.items():
                assert same(probed["credentials"][cred_key], cred_value), cred_key
        elif key != "table_format":  # the project's key, checked by the caller
            assert probed["fields"][key] == value, key


def same(resolved_value: Any, configured: Any) -> bool:
    """Equal, but for the newline dlt appends to a private key that lacks one."""
    if isinstance(configured, str) and isinstance(resolved_value, str):
        return resolved_value.rstrip("\n") == configured.rstrip("\n")
    return bool(resolved_value == configured)


def test_the_docs_have_a_config_block_for_every_documented_destination() -> None:
    assert set(documented_blocks()) == {
        "postgres",
        "motherduck",
        "bigquery",
        "snowflake",
        "filesystem-parquet",
        "filesystem-delta",
    }


@pytest.mark.parametrize(
    "key", ["motherduck", "bigquery", "snowflake", "postgres", "filesystem-parquet"]
)
def test_each_documented_config_block_resolves_offline(tmp_path: Path, key: str) -> None:
    block = documented_blocks()[key]
    name = key.split("-", maxsplit=1)[0]

    probed = probe_in_project(tmp_path, name, block)

    assert probed["destination_name"] == name
    assert_configured(probed, tomllib.loads(block)["destination"][name])
    assert probed["table_format"] is None


def test_the_documented_delta_block_selects_delta_tables(tmp_path: Path) -> None:
    block = documented_blocks()["filesystem-delta"]

    probed = probe_in_project(tmp_path, "filesystem", block)

    assert probed["table_format"] == "delta"
    assert_configured(probed, tomllib.loads(block)["destination"]["filesystem"])


ENVIRONMENTS: dict[str, dict[str, str]] = {
    "motherduck": {
        "DESTINATION__MOTHERDUCK__CREDENTIALS__DATABASE": "opencx",
        "DESTINATION__MOTHERDUCK__CREDENTIALS__PASSWORD": "md_token_placeholder",
    },
    "bigquery": {
        "DESTINATION__BIGQUERY__LOCATION": "EU",
        "DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID": "opencx-project",
        "DESTINATION__BIGQUERY__CREDENTIALS__CLIENT_EMAIL": "loader@opencx-project.iam.example",
        "DESTINATION__BIGQUERY__CREDENTIALS__PRIVATE_KEY": "private-key-placeholder",
    },
    "snowflake": {
        "DESTINATION__SNOWFLAKE__CREDENTIALS__DATABASE": "OPENCX",
        "DESTINATION__SNOWFLAKE__CREDENTIALS__USERNAME": "loader",
        "DESTINATION__SNOWFLAKE__CREDENTIALS__PASSWORD": "password-placeholder",
        "DESTINATION__SNOWFLAKE__CREDENTIALS__HOST": "kgiotue-wn98412",
        "DESTINATION__SNOWFLAKE__CREDENTIALS__WAREHOUSE": "COMPUTE_WH",
        "DESTINATION__SNOWFLAKE__CREDENTIALS__ROLE": "LOADER",
    },
}


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_credentials_resolve_from_environment_variables(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for variable, value in ENVIRONMENTS[name].items():
        monkeypatch.setenv(variable, value)

    probed = resolved(name)

    assert probed["resolved"] is True
    prefix = f"DESTINATION__{name.upper()}__"
    for variable, value in ENVIRONMENTS[name].items():
        key = variable.removeprefix(prefix).lower()
        if key.startswith("credentials__"):
            assert same(probed["credentials"][key.removeprefix("credentials__")], value), key
        else:
            assert probed["fields"][key] == value, key


def test_motherduck_credentials_make_an_md_connection_to_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dlt  # noqa: PLC0415

    for variable, value in ENVIRONMENTS["motherduck"].items():
        monkeypatch.setenv(variable, value)
    factory = dlt.destinations.motherduck()
    initial = factory.spec()
    initial.dataset_name = "opencx"

    config = factory.configuration(initial)

    assert config.credentials.to_native_representation().startswith("md:")
    assert config.credentials.database == "opencx"


def test_the_installed_duckdb_is_a_client_motherduck_accepts() -> None:
    """MotherDuck serves DuckDB clients 1.4 and 1.5 only."""
    major, minor = (int(part) for part in duckdb.__version__.split(".")[:2])
    assert (major, minor) in {(1, 4), (1, 5)}, duckdb.__version__


@pytest.mark.parametrize("name", sorted(CLIENT_LIBRARIES))
def test_a_destination_without_its_client_library_is_refused_before_any_request(
    tmp_path: Path, sim: Simulator, name: str
) -> None:
    if importlib.util.find_spec(CLIENT_LIBRARIES[name].split(".")[0]) is not None:
        pytest.skip(f"{CLIENT_LIBRARIES[name]} is installed here")
    env = cli_env(tmp_path, **ENVIRONMENTS[name])

    result = run_cli(env, "--base-url", sim.base_url, "--destination", name)

    assert result.returncode == 2, result.stderr
    assert f"pip install 'dlt[{name}]'" in only_line(result.stderr)
    assert insight_requests(sim) == []
