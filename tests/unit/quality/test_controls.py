"""Rows in = loaded + rejected (+ duplicates), and what ingest counted is really stored."""

import dagster as dg

from pipelines.quality.controls import CHECK_NAME, TABLE_OF_KIND, build_row_controls
from pipelines.warehouse import connect

from .conftest import NEW_RUN, NOW, PUBLISHED_RUN, stub_assets

RAW_TABLES = sorted(set(TABLE_OF_KIND.values()))


def run_controls(warehouse):
    result = dg.materialize([*stub_assets(*RAW_TABLES), build_row_controls(None)],
                            resources={"warehouse": warehouse.resource()}, raise_on_error=False)
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()
                   if e.check_name == CHECK_NAME}
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    return evaluations, materialized


def test_every_row_accounted_for_passes(warehouse):
    warehouse.invoices("erp/invoices.csv", NEW_RUN, [
        ("1", "INV-1", "2026-10-01", "2026-10-31", "10.00", None),
        ("2", "INV-2", "2026-10-01", "2026-10-31", "20.00", None)])
    warehouse.transactions("bank/a.xml", NEW_RUN, [("T1", "2026-10-31", "5.00", "EUR")])
    evaluations, materialized = run_controls(warehouse)
    assert set(evaluations) == set(RAW_TABLES)
    assert all(e.passed for e in evaluations.values())
    meta = {k: v.value for k, v in evaluations["erp_invoices"].metadata.items()}
    assert (meta["files"], meta["rows_in"], meta["rows_loaded"], meta["rows_stored"]) == (1, 2, 2, 2)
    assert "staging/downstream" in materialized


def test_rows_in_that_do_not_add_up_fail_the_blocking_check(warehouse):
    warehouse.transactions("bank/a.xml", NEW_RUN, [("T1", "2026-10-31", "5.00", "EUR")])
    # ingest said: 5 in, 1 loaded, 1 rejected, 2 duplicates (one row unaccounted for); and the
    # rejected row is not in audit.rejects
    with connect(warehouse.settings) as con:
        con.execute("UPDATE audit.files SET rows_in = 5, rows_rejected = 1, rows_duplicate = 2 "
                    "WHERE relative_path = 'bank/a.xml'")
    evaluations, materialized = run_controls(warehouse)
    check = evaluations["bank_transactions"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description == (
        "bank/a.xml: rows in 5 ≠ loaded 1 + rejected 1 + duplicates 2 (4); "
        "bank/a.xml: audit.rejects holds 0 of its rows, ingest rejected 1")
    assert "staging/downstream" not in materialized


def test_loaded_rows_missing_from_the_raw_table_fail(warehouse):
    warehouse.invoices("erp/invoices.csv", NEW_RUN, [
        ("1", "INV-1", "2026-10-01", "2026-10-31", "10.00", None),
        ("2", "INV-2", "2026-10-01", "2026-10-31", "20.00", None)])
    with connect(warehouse.settings) as con:
        con.execute("DELETE FROM raw.erp_invoices WHERE invoice_id = '2'")
        con.execute("INSERT INTO audit.rejects VALUES (?, 'hashX', 'erp/x.csv', 'erp:invoices', 2, "
                    "'line 2', 'bad', '{}', ?)", [NEW_RUN, NOW])
    evaluations, _ = run_controls(warehouse)
    assert evaluations["erp_invoices"].description == (
        "erp/invoices.csv: raw.erp_invoices holds 1 of its rows, ingest loaded 2")


def test_files_of_published_nights_are_not_checked_again(warehouse):
    warehouse.invoices("erp/invoices.csv", PUBLISHED_RUN, [
        ("1", "INV-1", "2026-10-01", "2026-10-31", "10.00", None)])
    with connect(warehouse.settings) as con:
        con.execute("UPDATE audit.files SET rows_in = 99")
    evaluations, _ = run_controls(warehouse)
    assert evaluations["erp_invoices"].passed
    assert evaluations["erp_invoices"].metadata["files"].value == 0
