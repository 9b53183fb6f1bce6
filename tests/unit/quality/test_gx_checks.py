"""The GX adapter: a suite file becomes a blocking asset check on the night's rows.

Runs the real checks with Dagster's ``materialize`` (the check selected with stub raw
assets whose rows are already in a temporary build database) and the shipped suites.
"""

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.quality.checks import build_gx_checks, suites
from pipelines.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR
from pipelines.warehouse import connect, ensure_schema

from .conftest import NEW_RUN, PUBLISHED_RUN, stub_assets

GOOD = ("1", "INV-001", "2026-10-01", "2026-10-31", "100.00", None)
DUE_BEFORE_ISSUE = ("4", "INV-004", "2026-11-01", "2026-10-01", "40.00", None)


def run_checks(warehouse, *tables: str, directory: Path = EXPECTATIONS_DIR):
    checked = [t for t in suites("raw", directory) if t.table in tables]
    result = dg.materialize([*stub_assets(*tables), build_gx_checks(checked, None, "gx_raw")],
                            resources={"warehouse": warehouse.resource()}, raise_on_error=False)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    return evaluations, materialized


def test_a_failing_expectation_fails_the_blocking_check_with_its_name_and_samples(warehouse):
    warehouse.invoices("erp/invoices.csv", PUBLISHED_RUN, [GOOD])
    warehouse.invoices("erp/invoices_2026-11-01.csv", NEW_RUN, [DUE_BEFORE_ISSUE])
    evaluations, materialized = run_checks(warehouse, "erp_invoices")

    check = evaluations["gx_raw_erp_invoices"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description.startswith(
        "expect_column_pair_values_a_to_be_greater_than_b (column_A=due_date, column_B=issue_date, "
        "or_equal=True): 1 of 1 rows, e.g. ['(2026-10-01, 2026-11-01)'] "
        "(erp/invoices_2026-11-01.csv line 2)")
    meta = {k: v.value for k, v in check.metadata.items()}
    assert meta["rows_checked"] == 1
    assert meta["validated_by"] == "great_expectations"  # a violation: GX decides and reports
    assert meta["failed_expectations"] == ["expect_column_pair_values_a_to_be_greater_than_b"]
    [failure] = meta["failures"]
    assert failure["unexpected_count"] == 1
    assert failure["sample_values"] == ["(2026-10-01, 2026-11-01)"]
    assert failure["sample_rows"] == [{"invoice_id": "4", "due_date": "2026-10-01",
                                       "issue_date": "2026-11-01",
                                       "_source_file": "erp/invoices_2026-11-01.csv",
                                       "_line_number": "2"}]
    # blocking: what reads the raw table was not built
    assert "raw/erp_invoices" in materialized and "staging/downstream" not in materialized


def test_a_passing_suite_passes_and_lets_the_night_go_on(warehouse):
    warehouse.invoices("erp/invoices.csv", NEW_RUN, [GOOD, ("2", "INV-002", "2026-10-02", "2026-11-01",
                                                            "50.00", None)])
    evaluations, materialized = run_checks(warehouse, "erp_invoices")
    check = evaluations["gx_raw_erp_invoices"]
    assert check.passed and check.description is None
    assert check.metadata["rows_checked"].value == 2
    assert check.metadata["validated_by"].value == "sql"  # no violation: GX not needed
    assert check.metadata["expectations"].value == len(json.loads(
        (EXPECTATIONS_DIR / "raw_erp_invoices.json").read_text())["expectations"])
    assert "staging/downstream" in materialized


def test_only_the_nights_latest_versions_are_validated(warehouse):
    # A bad row already published is history; a bad row corrected by a later version tonight
    # is not what the warehouse uses; both pass.
    warehouse.invoices("erp/invoices.csv", PUBLISHED_RUN, [DUE_BEFORE_ISSUE])
    warehouse.invoices("erp/invoices_a.csv", NEW_RUN, [
        ("5", "INV-005", "2026-11-01", "2026-10-01", "10.00", "2026-11-01 08:00:00")])
    warehouse.invoices("erp/invoices_b.csv", NEW_RUN, [
        ("5", "INV-005", "2026-11-01", "2026-12-01", "10.00", "2026-11-01 09:00:00")])
    evaluations, _ = run_checks(warehouse, "erp_invoices")
    assert evaluations["gx_raw_erp_invoices"].passed
    assert evaluations["gx_raw_erp_invoices"].metadata["rows_checked"].value == 1

    # A newer version delivered later but carrying an older updated_at does not win.
    warehouse.invoices("erp/invoices_c.csv", NEW_RUN, [
        ("5", "INV-005", "2026-11-01", "2026-10-01", "10.00", "2026-11-01 07:00:00")])
    evaluations, _ = run_checks(warehouse, "erp_invoices")
    assert evaluations["gx_raw_erp_invoices"].passed


def test_tables_without_updated_at_check_the_rows_of_the_nights_files(warehouse):
    warehouse.transactions("bank/old.xml", PUBLISHED_RUN, [("T0", "1900-01-01", "5.00", "EUR")])
    warehouse.transactions("bank/new.xml", NEW_RUN, [("T1", "2026-10-31", "5.00", "EUR"),
                                                     ("T2", "1901-01-01", "7.00", "EUR")])
    evaluations, _ = run_checks(warehouse, "bank_transactions")
    check = evaluations["gx_raw_bank_transactions"]
    assert not check.passed
    assert check.metadata["rows_checked"].value == 2  # the published file is not read again
    [failure] = check.metadata["failures"].value
    assert failure["expectation"] == "expect_column_values_to_be_between"
    assert failure["kwargs"]["column"] == "effective_date"
    assert failure["sample_rows"] == [{"transaction_id": "T2", "effective_date": "1901-01-01",
                                       "_source_file": "bank/new.xml", "_location": "Ntry[2]"}]
    assert "(bank/new.xml Ntry[2])" in check.description


def test_no_new_rows_pass_without_running_gx(warehouse):
    evaluations, materialized = run_checks(warehouse, "erp_invoices", "bank_transactions")
    assert all(e.passed for e in evaluations.values())
    assert evaluations["gx_raw_erp_invoices"].metadata["rows_checked"].value == 0


def test_a_suite_that_cannot_run_fails_its_check(warehouse, tmp_path):
    suite_dir = tmp_path / "suites"
    suite_dir.mkdir()
    (suite_dir / "raw_erp_invoices.json").write_text(json.dumps({
        "name": "raw_erp_invoices", "meta": {"key": ["invoice_id"]},
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}}]}))
    warehouse.invoices("erp/invoices.csv", NEW_RUN, [GOOD])
    evaluations, materialized = run_checks(warehouse, "erp_invoices", directory=suite_dir)
    check = evaluations["gx_raw_erp_invoices"]
    assert not check.passed and "no_such_column" in check.description
    assert "staging/downstream" not in materialized


def test_a_non_blocking_suite_warns_and_does_not_stop_the_night(warehouse, tmp_path):
    suite_dir = tmp_path / "suites"
    suite_dir.mkdir()
    spec = json.loads((EXPECTATIONS_DIR / "raw_erp_invoices.json").read_text())
    spec["meta"]["blocking"] = False
    (suite_dir / "raw_erp_invoices.json").write_text(json.dumps(spec))
    warehouse.invoices("erp/invoices.csv", NEW_RUN, [DUE_BEFORE_ISSUE])
    evaluations, materialized = run_checks(warehouse, "erp_invoices", directory=suite_dir)
    check = evaluations["gx_raw_erp_invoices"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "staging/downstream" in materialized


# --------------------------------------------------------------------------- the shipped suites
def _mart_columns(model: str) -> set[str]:
    for path in (DBT_PROJECT_DIR / "models" / "marts").rglob("*.yml"):
        for item in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            if item["name"] == model:
                return {c["name"] for c in item.get("columns", [])}
    raise AssertionError(f"model {model} is not documented")


def test_every_raw_table_has_a_suite_naming_only_its_columns(tmp_path, warehouse):
    with connect(warehouse.settings) as con:
        ensure_schema(con)
        tables = {r[0]: {c[0] for c in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = ?", [r[0]]).fetchall()}
            for r in con.execute("SELECT table_name FROM information_schema.tables "
                                 "WHERE table_schema = 'raw'").fetchall()}
    raw = {t.table: t for t in suites("raw")}
    assert set(raw) == set(tables)
    for table, checked in raw.items():
        assert set(checked.suite.columns) | set(checked.suite.key) <= tables[table], table
        assert checked.suite.blocking


@pytest.mark.parametrize("model", ["fct_ar_aging", "fct_bank_receipts"])
def test_the_key_marts_have_suites_naming_only_documented_columns(model):
    [checked] = [t for t in suites("marts") if t.table == model]
    assert set(checked.suite.columns) | set(checked.suite.key) <= _mart_columns(model)
    assert checked.check_name == f"gx_marts_{model}"


def test_a_dead_gx_worker_does_not_fail_the_night(warehouse, monkeypatch):
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from pipelines.quality import gx

    def dead_worker(*args, **kwargs):
        future: Future = Future()
        future.set_exception(BrokenProcessPool("A child process terminated abruptly"))
        return future

    monkeypatch.setattr(gx, "submit", dead_worker)
    warehouse.invoices("erp/invoices_2026-11-01.csv", NEW_RUN, [DUE_BEFORE_ISSUE])
    evaluations, _ = run_checks(warehouse, "erp_invoices")
    check = evaluations["gx_raw_erp_invoices"]  # validated in process instead: the real verdict
    assert not check.passed
    assert check.metadata["failed_expectations"].value == ["expect_column_pair_values_a_to_be_greater_than_b"]
