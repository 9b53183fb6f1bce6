"""`arw generate` then `arw nightly` on the result, checked against the generator's truth."""

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.reconcile.evaluate import evaluate

from .conftest import arw

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def night(generated_night) -> dict:
    return generated_night


def _csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _pub(night) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(night["wh"] / "ar.duckdb"), read_only=True)


def test_the_published_file_holds_the_four_marts_with_rows(night):
    con = _pub(night)
    counts = {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchall()[0][0]
              for t in ("dim_customers", "fct_bank_receipts", "fct_payment_allocations", "fct_ar_aging")}
    con.close()
    assert counts["dim_customers"] == 40
    assert all(n > 0 for n in counts.values()), counts


def test_receipts_equal_the_truth_money_in_per_currency_to_the_cent(night):
    truth = defaultdict(Decimal)
    for p in _csv(night["gen"] / "truth" / "payments.csv"):
        amount = Decimal(p["amount"])
        if amount > 0 and date.fromisoformat(p["value_date"] or p["booking_date"]) <= AS_OF:
            truth[p["currency"]] += amount
    con = _pub(night)
    rows = con.execute("SELECT currency, sum(amount), sum(applied_amount + unapplied_amount + excluded_amount) "
                       "FROM marts.fct_bank_receipts GROUP BY 1").fetchall()
    con.close()
    assert {c: a for c, a, _ in rows} == dict(truth)
    assert all(a == s for _, a, s in rows)  # money in = applied + unapplied + returned / not AR


def test_automatic_allocations_meet_the_precision_and_recall_targets(night):
    """Precision ≥ 99.9% of the automatically applied amount, recall ≥ 95% of the matchable."""
    score = evaluate(night["wh"] / "ar.duckdb", night["gen"] / "truth", AS_OF)
    assert score.applied > 0 and len(score.by_rule) >= 3
    assert score.precision >= 0.999, score.precision
    assert score.recall >= 0.95, score.recall


def test_aging_buckets_equal_open_ar_recomputed_from_the_inbox(night):
    inbox = night["gen"] / "inbox" / "erp"
    open_amount = {}
    due = {}
    for inv in _csv(inbox / "invoices.csv"):
        if inv["status"] == "issued" and date.fromisoformat(inv["issue_date"]) <= AS_OF:
            open_amount[inv["invoice_id"]] = Decimal(inv["amount"])
            due[inv["invoice_id"]] = date.fromisoformat(inv["due_date"])
    for cn in _csv(inbox / "credit_notes.csv"):
        if cn["invoice_id"] in open_amount and date.fromisoformat(cn["issue_date"]) <= AS_OF:
            open_amount[cn["invoice_id"]] -= Decimal(cn["amount"])
    con = _pub(night)
    for invoice_id, amount in con.execute(
            "SELECT invoice_id, allocated_amount FROM marts.fct_payment_allocations "
            "UNION ALL SELECT invoice_id, amount FROM marts.fct_ar_adjustments").fetchall():
        open_amount[invoice_id] -= amount
    aging = con.execute("SELECT aging_bucket, sum(open_amount) FROM marts.fct_ar_aging GROUP BY 1").fetchall()
    con.close()
    bounds = [(0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (365, "181-365")]
    expected = defaultdict(Decimal)
    for invoice_id, amount in open_amount.items():
        if amount == 0:
            continue
        days = (AS_OF - due[invoice_id]).days
        expected[next((label for upper, label in bounds if days <= upper), "over-365")] += amount
    assert dict(aging) == dict(expected)
    assert sum(dict(aging).values()) == sum(v for v in open_amount.values())


def test_the_summary_names_files_rows_receipts_and_buckets(night):
    out = night["stdout"]
    assert "PUBLISHED" in out
    assert "rows in" in out and "= loaded" in out and "+ rejected 0" in out
    assert "EUR" in out and "receipts" in out and "over-365" in out
    assert str(night["wh"] / "ar.duckdb") in out
    with duckdb.connect(str(night["wh"] / "build.duckdb"), read_only=True) as con:
        decided = con.execute("SELECT count(*) FROM recon.receipt_outcomes").fetchone()[0]
    assert f"Matcher: full walk: no earlier night to resume after ({decided:,} payments decided)" in out


def test_the_stored_invoice_number_key_is_the_matchers(night):
    """stg_erp__invoices stores each number's non-zero digits for the resumed matcher's
    look-up (evidence.nonzero_digits): the stored value is the matcher's expression's."""
    from pipelines.reconcile.evidence import nonzero_digits

    with duckdb.connect(str(night["wh"] / "build.duckdb"), read_only=True) as con:
        rows, differ, example = con.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE invoice_number_digits IS DISTINCT FROM
                                                    {nonzero_digits('invoice_number')}),
                   any_value(invoice_number_digits) FILTER (WHERE invoice_number_digits <> '')
            FROM staging.stg_erp__invoices""").fetchone()
    assert rows >= 500 and differ == 0 and example.isdigit() and "0" not in example


def test_arw_sql_prints_and_exports_exact_values_read_only(night, tmp_path):
    query = ("select currency, sum(open_amount) as open_ar, count(*) as n "
             "from marts.fct_ar_aging group by 1 order by 1")
    con = _pub(night)
    expected = [(c, str(a), n) for c, a, n in con.execute(query).fetchall()]
    con.close()
    wh = str(night["wh"])
    csv_run = arw("sql", query, "--warehouse-dir", wh, "--format", "csv")
    assert csv_run.returncode == 0, csv_run.stderr
    rows = list(csv.reader(csv_run.stdout.splitlines()))
    assert rows[0] == ["currency", "open_ar", "n"]
    assert [(c, a, int(n)) for c, a, n in rows[1:]] == expected
    out = tmp_path / "open.json"
    assert arw("sql", query, "--warehouse-dir", wh, "--format", "json", "--output", str(out)).returncode == 0
    import json

    assert [(r["currency"], r["open_ar"], r["n"]) for r in json.loads(out.read_text())] == expected
    parquet = tmp_path / "open.parquet"
    assert arw("sql", query, "--warehouse-dir", wh, "--format", "parquet", "--output", str(parquet)).returncode == 0
    back = duckdb.sql(f"select currency, open_ar::VARCHAR, n from '{parquet}' order by 1").fetchall()
    assert back == expected
    table = arw("sql", query, "--warehouse-dir", wh)
    assert expected[0][1] in table.stdout and f"({len(expected)} rows)" in table.stdout
    refused = arw("sql", "create table marts.x as select 1", "--warehouse-dir", wh)
    assert refused.returncode == 2 and "read-only" in refused.stderr.lower()
