"""The Dagster definitions load, and their asset keys match the committed snapshot.

A renamed or removed asset is a conscious change: update tests/integration/asset_keys.txt.
"""

from pathlib import Path

import yaml

from pipelines.definitions import build_definitions
from pipelines.settings import PROJECT_DIR, Settings

SNAPSHOT = Path(__file__).with_name("asset_keys.txt")


def _defs(tmp_path):
    return build_definitions(Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh"))


def test_asset_keys_match_the_snapshot(tmp_path):
    graph = _defs(tmp_path).resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == SNAPSHOT.read_text().split()


def test_nightly_job_schedule_and_blocking_gx_check(tmp_path):
    defs = _defs(tmp_path)
    job = defs.resolve_job_def("nightly")
    assert job.partitions_def is not None
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "30 2 * * *"
    graph = defs.resolve_asset_graph()
    gx = [k for k in graph.asset_check_keys if k.name == "gx_raw_erp_invoices"]
    assert len(gx) == 1 and gx[0].asset_key.path == ["raw", "erp_invoices"]
    assert graph.get_check_spec(gx[0]).blocking


def test_schedule_time_and_zone_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ARW_NIGHTLY_TIME", "04:15")
    monkeypatch.setenv("ARW_TIMEZONE", "America/New_York")
    schedule = _defs(tmp_path).resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "15 4 * * *"
    assert schedule.execution_timezone == "America/New_York"


def test_workspace_yaml_points_at_the_definitions_module():
    workspace = yaml.safe_load((PROJECT_DIR / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "pipelines.definitions"
    import pipelines.definitions as module

    assert module.defs is not None


def test_dagster_loads_the_workspace_file(tmp_path):
    """What `dagster dev -w workspace.yaml` loads, checked with Dagster's own validator."""
    import os
    import subprocess
    import sys

    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "ARW_WAREHOUSE_DIR": str(tmp_path / "wh")}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr
