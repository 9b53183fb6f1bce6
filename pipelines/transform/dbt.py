"""The dbt project as Dagster assets, run in process.

Two dbt invocations per night: the staging models the matcher reads (ERP, bank, manual),
then, after the reconcile step, the ledger's staging, the intermediate models and the
marts. dbt tests run inside ``dbt build``; each test attached to a model is reported to
Dagster as an asset check of that model, and any failing test fails the step, so nothing
downstream (publish) runs.

dbt runs in this process through its programmatic API (``dbtRunner``) with a manifest
parsed once per process: a separate ``dbt`` process per invocation costs ~9 s here (import,
parse), the in-process build of the same models ~1–2 s. The manifest on disk
(``target/manifest.json``, needed by Dagster to know the assets) is refreshed only when the
dbt project changes.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    PartitionsDefinition,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from pipelines.automation import nightly_asset_kwargs
from pipelines.progress import stage
from pipelines.resources import WarehouseResource
from pipelines.settings import DBT_PROJECT_DIR, Settings
from pipelines.warehouse import connect, ensure_schema, scalar

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
_STAMP_PATH = DBT_PROJECT_DIR / "target" / ".arw_project_hash"

# Tags set per folder in dbt_project.yml: what the matcher reads, and what reads the matcher.
# (dbt tags add up down the folders: staging/recon has both, so exclude it explicitly.)
STAGING_SELECT = "tag:before_reconcile"
STAGING_EXCLUDE = "tag:after_reconcile"
MARTS_SELECT = "tag:after_reconcile"

_PICKLE_PATH = DBT_PROJECT_DIR / "target" / "arw_manifest.pickle"
_parsed: dict[str, Any] = {}  # project hash -> dbt Manifest object, parsed once per process


def _project_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        rel = path.relative_to(DBT_PROJECT_DIR)
        if rel.parts[0] in {"target", "logs", "dbt_packages"} or not path.is_file():
            continue
        if path.name == ".user.yml":
            continue
        digest.update(rel.as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt runs with: the build database, threads, memory, no telemetry."""
    return {
        "ARW_BUILD_DB": str(settings.build_db),
        "ARW_DBT_THREADS": str(settings.dbt_threads),
        "ARW_DBT_DUCKDB_THREADS": str(settings.dbt_duckdb_threads),
        "ARW_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _common_args(log_dir: Path | None = None) -> list[str]:
    args = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if log_dir is not None:
        args += ["--log-path", str(log_dir)]
    return args


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB connection open in process; close it so others can write."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
        DuckDBConnectionManager._ENV = None


def _parse(log_dir: Path | None = None):
    """The dbt Manifest for the current project state.

    Parsed once per project state and kept pickled in target/ (a parse costs seconds, loading
    the pickle milliseconds), and in memory for the rest of the process.
    """
    from dbt.version import __version__ as dbt_version

    current = f"{_project_hash()}:{dbt_version}"
    if current in _parsed:
        return _parsed[current]
    manifest = None
    if _PICKLE_PATH.exists() and _STAMP_PATH.exists() and _STAMP_PATH.read_text() == current:
        with contextlib.suppress(Exception):  # a stale or foreign pickle: parse again
            manifest = pickle.loads(_PICKLE_PATH.read_bytes())
            # dbt's Manifest.__reduce_ex__ passes its lookup caches positionally and they no
            # longer line up with its fields: drop them all, dbt rebuilds them on first use.
            for name in [n for n in vars(manifest) if n.startswith("_") and n.endswith("_lookup")]:
                setattr(manifest, name, None)
    if manifest is None:
        manifest = _parse_to_target(current, log_dir)
    _parsed.clear()
    _parsed[current] = manifest
    return manifest


def _parse_to_target(current: str, log_dir: Path | None):
    """Parse, then put manifest.json, the pickle and the stamp into target/ atomically.

    Several processes may prepare the project at once (tests, ``arw docs``, a night): dbt
    parses into a private folder under a lock and each file is replaced whole, so a reader
    never sees half a manifest.
    """
    from dbt.cli.main import dbtRunner

    target = MANIFEST_PATH.parent
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".arw.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        private = Path(tempfile.mkdtemp(dir=target, prefix=".parse-"))
        try:
            os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            result = dbtRunner().invoke(["parse", "--quiet", "--target-path", str(private),
                                         *_common_args(log_dir)])
            _release_duckdb()
            if not result.success:
                raise RuntimeError(f"dbt parse failed: {result.exception}")
            (private / "arw_manifest.pickle").write_bytes(pickle.dumps(result.result))
            (private / "stamp").write_text(current)
            os.replace(private / "manifest.json", MANIFEST_PATH)
            os.replace(private / "arw_manifest.pickle", _PICKLE_PATH)
            os.replace(private / "stamp", _STAMP_PATH)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return result.result


def prewarm() -> threading.Thread:
    """Import dbt in a background thread while the night ingests (saves ~3 s of wall time)."""

    def _import() -> None:
        import dbt.adapters.duckdb  # noqa: F401
        import dbt.cli.main  # noqa: F401

    thread = threading.Thread(target=_import, name="dbt-import", daemon=True)
    thread.start()
    return thread


def ensure_manifest() -> Path:
    """target/manifest.json for Dagster's asset definitions, refreshed when the project changes."""
    if not (MANIFEST_PATH.exists() and _STAMP_PATH.exists()
            and _STAMP_PATH.read_text().split(":")[0] == _project_hash()):
        _parse()
    return MANIFEST_PATH


def run_dbt(settings: Settings, args: list[str]):
    """Invoke dbt in process against the build database; returns dbt's result object."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(settings))
    log_dir = settings.warehouse_dir / "logs"
    manifest = _parse(log_dir)
    if "--target-path" not in args:  # the night's artifacts stay with its warehouse
        args = [*args, "--target-path", str(settings.warehouse_dir / "dbt_target")]
    try:
        return dbtRunner(manifest=manifest).invoke([*args, "--quiet", *_common_args(log_dir)])
    finally:
        _release_duckdb()


class ArwDbtTranslator(DagsterDbtTranslator):
    """Asset keys: ``[schema folder, model]`` for models, ``[source, table]`` for sources."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else "dbt"
        return AssetKey([layer, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


TRANSLATOR = ArwDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _events(context: AssetExecutionContext, manifest: Mapping[str, Any], result):
    """Dagster events from dbt's run results; raises Failure when any node failed."""
    selected_assets = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    failures = []
    for node_result in (result.result.results if result.result else []):
        uid = node_result.node.unique_id
        status = str(node_result.status)
        props = manifest["nodes"].get(uid) or manifest.get("unit_tests", {}).get(uid, {})
        if props.get("resource_type") == "model":
            key = TRANSLATOR.get_asset_key(props)
            if status == "success" and key in selected_assets:
                yield MaterializeResult(asset_key=key, metadata={
                    "dbt_seconds": round(node_result.execution_time, 3),
                    "rows_affected": getattr(node_result.adapter_response, "rows_affected", None)
                    if hasattr(node_result, "adapter_response") else None,
                })
            elif status != "success":
                failures.append(f"model {props['name']}: {node_result.message}")
        elif props.get("resource_type") in {"test", "unit_test"}:
            passed = status in {"pass", "success"}
            if not passed and status != "skipped":
                failures.append(f"test {props['name']}: {status}, {node_result.message}"
                                f" ({node_result.failures or 0} failing rows)")
            check_key = get_asset_check_key_for_test(manifest, TRANSLATOR, uid, None)
            if status != "skipped" and check_key is not None and check_key in selected_checks:
                yield AssetCheckResult(
                    asset_key=check_key.asset_key, check_name=check_key.name, passed=passed,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"status": status, "failing_rows": node_result.failures or 0,
                              "message": str(node_result.message or "")})
    if not result.success:
        if result.exception is not None:
            failures.append(f"dbt error: {result.exception}")
        raise Failure(description="dbt build failed: " + "; ".join(failures or ["see the log"]))


_PROJECT_STATE = "(project)"  # the row of audit.dbt_watermarks that holds the project's hash


def _built_with(settings: Settings, invocation: str) -> str | None:
    """The dbt project hash the last successful build of `invocation` ran with, if any. Makes
    sure audit.dbt_watermarks, which the incremental models read, exists before dbt runs
    (a dbt asset materialised on its own from the UI runs no ingest step first)."""
    with connect(settings) as con:
        ensure_schema(con)
        return scalar(con, "SELECT max(value) FROM audit.dbt_watermarks WHERE model = ? AND name = ?",
                      [_PROJECT_STATE, invocation])


def _save_built_with(settings: Settings, invocation: str, project_hash: str) -> None:
    with connect(settings) as con:
        con.execute("INSERT OR REPLACE INTO audit.dbt_watermarks VALUES (?, ?, ?, now())",
                    [_PROJECT_STATE, invocation, project_hash])


def _build(context: AssetExecutionContext, warehouse: WarehouseResource, select: list[str],
           label: str):
    settings = warehouse.settings()
    manifest = json.loads(MANIFEST_PATH.read_text())
    # dbt unit tests check formulas on fixed inputs, not the night's data: they run in
    # `make test` (tests/integration/test_dbt_unit_tests.py), not in every night.
    args = ["build", *select, "--exclude-resource-type", "unit_test",
            "--vars", json.dumps({"as_of_date": context.partition_key,
                                  "reporting_currency": settings.reporting_currency,
                                  # generic tests of incremental models check the changed keys
                                  # (dbt_project/macros/test_scope.sql); by hand: every row
                                  "tests_on_changed_keys": True})]
    # Incremental models read only what came after their watermarks. When the dbt project
    # changed since this invocation last succeeded (or ARW_DBT_FULL_REFRESH is set), they are
    # rebuilt from scratch instead; history models (full_refresh=false) keep their history.
    project_hash = _project_hash()
    refresh = settings.dbt_full_refresh or _built_with(settings, label) != project_hash
    if refresh:
        args.append("--full-refresh")
    with stage(label) as info:
        result = run_dbt(settings, args)
        nodes = result.result.results if result.result else []
        info["note"] = (f"{len(nodes)} models and tests{', full rebuild' if refresh else ''}, "
                        f"{'ok' if result.success else 'FAILED'}")
    if result.success:
        _save_built_with(settings, label, project_hash)
    yield from _events(context, manifest, result)


def build_dbt_assets(manifest: Path, partitions: PartitionsDefinition):
    common = {**nightly_asset_kwargs(partitions), "dagster_dbt_translator": TRANSLATOR}

    @dbt_assets(manifest=manifest, select=STAGING_SELECT, exclude=STAGING_EXCLUDE,
                name="dbt_staging", **common)
    def dbt_staging(context: AssetExecutionContext, warehouse: WarehouseResource):
        warehouse.fault_point("dbt_staging")
        yield from _build(context, warehouse,
                          ["--select", STAGING_SELECT, "--exclude", STAGING_EXCLUDE], "dbt staging")

    @dbt_assets(manifest=manifest, select=MARTS_SELECT, name="dbt_marts", **common)
    def dbt_marts(context: AssetExecutionContext, warehouse: WarehouseResource):
        warehouse.fault_point("dbt_marts")
        yield from _build(context, warehouse, ["--select", MARTS_SELECT], "dbt marts")

    return dbt_staging, dbt_marts
