"""The incremental marts recompute what changed and nothing else goes stale.

test_incremental_nights.py runs whole nights; this test reaches the one input a night can
change without a ledger entry: the matcher's conclusion about an earlier receipt (its reason
or payer), which fct_bank_receipts and fct_reconciliation_exceptions must take from the new
night's outcomes. dbt runs in
process on a copy of the generated night's build database, as the nightly runs it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from .conftest import GENERATED_AS_OF, copy_night

NEXT = (date.fromisoformat(GENERATED_AS_OF) + timedelta(days=1)).isoformat()


def _marts(settings, as_of: str, *extra: str) -> None:
    from pipelines.transform.dbt import MARTS_SELECT, run_dbt

    result = run_dbt(settings, ["build", "--select", MARTS_SELECT, "--exclude-resource-type", "unit_test",
                                "--vars", json.dumps({"as_of_date": as_of}), *extra])
    assert result.success, result.exception


def _receipts(db, mart: str = "fct_bank_receipts") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{mart} ORDER BY ALL").fetchall()


def test_a_changed_outcome_without_a_ledger_entry_reaches_fct_bank_receipts(generated_night, tmp_path):
    from pipelines.settings import Settings

    copy = copy_night(generated_night, tmp_path)
    settings = Settings.from_env().with_overrides(copy["inbox"], copy["wh"])
    with duckdb.connect(str(settings.build_db)) as con:
        # the next night's outcomes: the same, except one exception now names a payer and
        # another reason (as when a new customer's name makes an unknown payer known)
        transaction, customer = con.execute("""
            SELECT o.transaction_id, (SELECT min(customer_id) FROM staging.stg_erp__customers)
            FROM recon.receipt_outcomes o
            WHERE o.as_of_date = ? AND o.outcome = 'exception' AND o.payer_customer_id IS NULL
            ORDER BY o.transaction_id LIMIT 1""", [GENERATED_AS_OF]).fetchone()
        con.execute("INSERT INTO recon.receipt_outcomes SELECT * REPLACE (CAST(? AS DATE) AS as_of_date) "
                    "FROM recon.receipt_outcomes WHERE as_of_date = ?", [NEXT, GENERATED_AS_OF])
        con.execute("UPDATE recon.receipt_outcomes SET payer_customer_id = ?, "
                    "reason_code = 'SEVERAL_INVOICES_FIT_AMOUNT' WHERE as_of_date = ? AND transaction_id = ?",
                    [customer, NEXT, transaction])
    before = {r[0]: r for r in _receipts(settings.build_db)}
    assert before[transaction][5] is None  # customer_id: unknown on the generated night

    _marts(settings, NEXT)  # incremental: the marts were built by the generated night
    incremental = _receipts(settings.build_db)
    after = {r[0]: r for r in incremental}
    assert after[transaction][5] == customer
    assert after[transaction][10] == "SEVERAL_INVOICES_FIT_AMOUNT"  # reason_code
    exceptions = _receipts(settings.build_db, "fct_reconciliation_exceptions")
    row = next(r for r in exceptions if r[0] == transaction)
    assert (row[8], row[10]) == ("SEVERAL_INVOICES_FIT_AMOUNT", customer)  # reason, payer
    with duckdb.connect(str(settings.build_db), read_only=True) as con:  # only that receipt recomputed
        assert con.execute("SELECT key FROM audit.unpublished_keys WHERE model = "
                           "'fct_reconciliation_exceptions'").fetchall() == [(transaction,)]

    _marts(settings, NEXT, "--full-refresh")
    assert incremental == _receipts(settings.build_db)
    assert exceptions == _receipts(settings.build_db, "fct_reconciliation_exceptions")


def _failures(result, test_prefix: str) -> int:
    """The failing rows dbt counted for the test whose name starts with `test_prefix`."""
    [run] = [r for r in result.result.results if r.node.name.startswith(test_prefix)]
    return run.failures


@pytest.mark.parametrize(("model", "table", "key", "test_prefix"), [
    ("fct_payment_allocations", "marts.fct_payment_allocations", "transaction_id",
     "unique_combination_fct_payment_allocations"),
    # views over append-only tables: the keys taken in (recorded) since their last build
    ("stg_bank__transactions", "raw.bank_transactions", "transaction_id", "unique_stg_bank__transactions_transaction_id"),
    ("stg_recon__allocation_ledger", "recon.allocation_ledger", "event_seq", "unique_stg_recon__allocation_ledger_event_seq"),
])
def test_an_incremental_night_tests_the_changed_keys_and_a_night_after_publishing_every_row(
        generated_night, tmp_path, model, table, key, test_prefix):
    """The generic tests of a keyed incremental model check, on an incremental build, only the
    keys recomputed (or taken in) since the last publish (dbt_project/macros/test_scope.sql):
    a duplicate planted in a row the night did not touch passes that night, fails once its key
    is among the changed ones, and fails when dbt tests every row (run by hand, or no build
    since the publish)."""
    from pipelines.settings import Settings
    from pipelines.transform.dbt import run_dbt

    copy = copy_night(generated_night, tmp_path)
    settings = Settings.from_env().with_overrides(copy["inbox"], copy["wh"])
    with duckdb.connect(str(settings.build_db)) as con:
        assert con.execute("SELECT count(*) FROM audit.unpublished_builds").fetchone()[0] == 0  # published
        planted = con.execute(f"SELECT min({key}) FROM {table}").fetchone()[0]
        con.execute(f"INSERT INTO {table} SELECT * FROM {table} WHERE {key} = ? LIMIT 1", [planted])
    one_model = ["--select", model, "--indirect-selection", "cautious",
                 "--vars", json.dumps({"as_of_date": NEXT, "tests_on_changed_keys": True})]  # as the nightly

    night_build = run_dbt(settings, ["build", *one_model])
    assert night_build.success, night_build.exception
    assert _failures(night_build, test_prefix) == 0
    with duckdb.connect(str(settings.build_db)) as con:
        assert con.execute("SELECT full_rebuild FROM audit.unpublished_builds WHERE model = ?",
                           [model]).fetchall() == [(False,)]
        assert str(planted) not in {k for (k,) in con.execute(
            "SELECT key FROM audit.unpublished_keys WHERE model = ?", [model]).fetchall()}
        con.execute("INSERT INTO audit.unpublished_keys VALUES (?, ?, now())", [model, str(planted)])

    changed = run_dbt(settings, ["test", *one_model])
    assert not changed.success
    assert _failures(changed, test_prefix) == 1

    by_hand = run_dbt(settings, ["test", *one_model[:-2], "--vars", json.dumps({"as_of_date": NEXT})])
    assert _failures(by_hand, test_prefix) == 1  # without the nightly's var: every row

    with duckdb.connect(str(settings.build_db)) as con:  # as publishing does
        con.execute("DELETE FROM audit.unpublished_keys")
        con.execute("DELETE FROM audit.unpublished_builds")
    every_row = run_dbt(settings, ["test", *one_model])
    assert _failures(every_row, test_prefix) == 1
