"""The SQL screen of a suite is at least as strict as Great Expectations: whatever GX fails,
the screen flags (then GX decides and reports), and a suite the screen passes, GX passes."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.quality import gx, screen
from pipelines.settings import EXPECTATIONS_DIR

COLUMNS = {"id": "VARCHAR", "code": "VARCHAR", "amount": "DECIMAL(18,2)", "rate": "DOUBLE",
           "issued": "DATE", "due": "DATE", "status": "VARCHAR", "n": "INTEGER"}
CLEAN = [
    ("1", "EUR", Decimal("10.00"), 1.5, date(2026, 1, 1), date(2026, 1, 31), "ok", 1),
    ("2", "USD", Decimal("20.00"), 2.5, date(2026, 1, 2), date(2026, 1, 2), "mismatch", 2),
    ("3", "CHF", None, None, date(2026, 1, 3), None, "not_checkable", None),
]


def _e(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs}


# (expectation, a row that violates it — appended to CLEAN)
CASES = [
    (_e("expect_column_values_to_not_be_null", column="id"),
     (None, "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_not_be_null", column="rate"),
     ("9", "EUR", Decimal("1"), float("nan"), date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_unique", column="id"),
     ("1", "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_compound_columns_to_be_unique", column_list=["code", "status"]),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_between", column="amount", min_value=0, strict_min=True),
     ("9", "EUR", Decimal("0"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_between", column="amount", min_value=0, max_value=100),
     ("9", "EUR", Decimal("100.01"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_between", column="issued", min_value="1990-01-01",
        max_value="2100-12-31"),
     ("9", "EUR", Decimal("1"), 1.0, date(1989, 12, 31), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_between", column="n", min_value=0, max_value=3650),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", -1)),
    (_e("expect_column_values_to_be_in_set", column="status", value_set=["ok", "mismatch", "not_checkable"]),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "OK", 1)),
    (_e("expect_column_values_to_not_be_in_set", column="status", value_set=["bad"]),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "bad", 1)),
    (_e("expect_column_values_to_match_regex", column="code", regex="^[A-Z]{3}$"),
     ("9", "EURO", Decimal("1"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_pair_values_a_to_be_greater_than_b", column_A="due", column_B="issued", or_equal=True),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 2), date(2026, 1, 1), "ok", 1)),
    (_e("expect_column_pair_values_a_to_be_greater_than_b", column_A="due", column_B="issued"),
     ("9", "EUR", Decimal("1"), 1.0, date(2026, 1, 2), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_be_in_set", column="amount", value_set=[0],
        row_condition='status == "ok"', condition_parser="pandas"),
     ("9", "EUR", Decimal("5"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
    (_e("expect_column_values_to_not_be_null", column="due",
        row_condition='status != "not_checkable"', condition_parser="pandas"),
     ("9", "EUR", Decimal("5"), 1.0, date(2026, 1, 1), None, "ok", 1)),
    (_e("expect_column_unique_value_count_to_be_between", column="code", min_value=0, max_value=3),
     ("9", "GBP", Decimal("5"), 1.0, date(2026, 1, 1), date(2026, 1, 2), "ok", 1)),
]


def _table(rows) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    cols = ", ".join(f"{n} {t}" for n, t in COLUMNS.items())
    con.execute(f"CREATE TABLE t ({cols})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    return con


def _gx_passes(expectation: dict, rows, tmp_path) -> bool:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "s", "expectations": [expectation]}))
    con = _table(rows)
    frame = con.execute("SELECT * FROM t").df(date_as_object=True)
    for col in ("issued", "due"):  # as pipelines.quality.checks.read_rows hands dates to GX
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return gx.validate_in_process(path, frame).passed


def _condition_rows(expectation: dict):
    # the row-condition cases need clean rows that satisfy their expectation
    kwargs = expectation["kwargs"]
    if kwargs.get("row_condition") == 'status == "ok"':
        return [r[:2] + (Decimal("0"),) + r[3:] if r[6] == "ok" else r for r in CLEAN]
    return CLEAN


@pytest.mark.parametrize("expectation, bad_row", CASES, ids=[f"{i}-{c[0]['type']}" for i, c in enumerate(CASES)])
def test_the_screen_flags_what_gx_fails_and_passes_only_what_gx_passes(expectation, bad_row, tmp_path):
    clean = _condition_rows(expectation)
    for rows in (clean, [*clean, bad_row]):
        result = screen.screen(_table(rows), "SELECT * FROM t", [expectation], COLUMNS)
        assert result is not None, "translated"
        assert result.rows == len(rows)
        if result.passed:  # the screen never passes what GX fails
            assert _gx_passes(expectation, rows, tmp_path)
    bad = screen.screen(_table([*clean, bad_row]), "SELECT * FROM t", [expectation], COLUMNS)
    assert not bad.passed
    assert not _gx_passes(expectation, [*clean, bad_row], tmp_path), "GX agrees the row is bad"


def test_a_clean_table_passes_the_screen_without_gx():
    expectations = [case[0] for case in CASES if "row_condition" not in case[0]["kwargs"]
                    and case[0]["kwargs"].get("column") not in ("rate",)
                    and "column_A" not in case[0]["kwargs"]]
    result = screen.screen(_table(CLEAN), "SELECT * FROM t", expectations, COLUMNS)
    assert result.passed and result.rows == 3 and len(result.violations) == len(expectations)


@pytest.mark.parametrize("expectation", [
    _e("expect_column_values_to_not_be_null", column="id", mostly=0.9),
    _e("expect_column_values_to_not_be_null", column="no_such_column"),
    _e("expect_column_values_to_be_between", column="issued", min_value="2020-01-01",
       parse_strings_as_datetimes=True),
    _e("expect_column_values_to_match_regex", column="amount", regex="^1"),
    _e("expect_column_values_to_be_in_set", column="amount", value_set=[0],
       row_condition="amount > 3", condition_parser="pandas"),
    _e("expect_table_row_count_to_be_between", min_value=1),
])
def test_what_the_screen_does_not_translate_goes_to_gx(expectation):
    assert screen.screen(_table(CLEAN), "SELECT * FROM t", [expectation], COLUMNS) is None


LARGE_TABLES = ("raw_bank_transactions", "raw_erp_invoices", "raw_erp_orders", "raw_erp_credit_notes",
                "raw_erp_customers", "marts_fct_ar_aging", "marts_fct_bank_receipts")


@pytest.mark.parametrize("suite", LARGE_TABLES)
def test_every_expectation_on_the_large_tables_is_translated(suite):
    spec = json.loads((EXPECTATIONS_DIR / f"{suite}.json").read_text())
    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        names = [kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
        # the column types only decide how bounds are written: dates, numbers, text
        types = {c: ("DATE" if "date" in c else "DECIMAL(18,2)" if any(
            w in c for w in ("amount", "balance", "limit", "rate", "days", "count", "year"))
            else "VARCHAR") for c in names if c}
        try:
            screen.violation_sql(expectation, {**types, "balance_status": "VARCHAR"})
        except screen.NotTranslated as exc:
            pytest.fail(f"{suite}: {expectation['type']} not translated ({exc})")
