"""ERP files read by DuckDB load exactly what the pandas reader loads (rows, rejects, counts),
and files DuckDB cannot read exactly are left to pandas (their reasons stay pandas')."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from pipelines.ingest import erp
from pipelines.ingest.erp import ENTITY_BY_NAME, ingest_entities
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

HEADER = ("invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,"
          "currency,amount,status,disputed,updated_at")
ROWS = [
    "0001,INV-0001,,C1,,2026-01-05,2026-02-04,EUR,100.10,issued,false,",
    "0002,INV-0002,,C1,,2026-02-30,2026-03-01,EUR,50.00,issued,false,",
    "0003,INV-0003,,C1,,2026-01-05,2026-02-04,XXY,1.5,issued,false,2026-01-05T10:00:00",
    "0004,INV-0004,,,,2026-01-05,2026-02-04,EUR,-3,paid,maybe,",
    '0005," INV-0005 ",,C2,,2026-01-06,2026-02-05,eur,12.345678,issued,,2026-01-06 11:30:00',
    '0006,"INV, 6",SO-6,C3,SP1, 2026-01-07 ,2026-02-06,CHF, 7 ,Issued,TRUE,',
    '0007,"",,C3,,2026-01-07,2026-02-06,CHF,"",issued,,',
]
CSV_CASES = {
    "plain": "\n".join([HEADER, *ROWS]) + "\n",
    "crlf_no_final_newline": "\r\n".join([HEADER, *ROWS]),
    "bom_and_spaced_header": "\ufeff" + HEADER.replace(",", ", ") + "\n" + "\n".join(ROWS) + "\n",
    "columns_in_another_order_optional_missing": (
        "amount,currency,due_date,issue_date,customer_id,invoice_number,invoice_id,status\n"
        "10.00,EUR,2026-02-01,2026-01-01,C9,N-9,0009,issued\n"),
    "header_only": HEADER + "\n",
}
NOT_EXACT_CASES = {  # pandas decides: blank lines, line breaks in quotes, ragged rows, bad bytes
    "blank_line": HEADER + "\n" + ROWS[0] + "\n\n" + ROWS[2] + "\n",
    "newline_in_quotes": HEADER + "\n" + ROWS[0].replace("INV-0001", '"INV\n0001"') + "\n",
    "too_many_fields": HEADER + "\n" + ROWS[0] + ",extra\n",
    "too_few_fields": HEADER + "\n" + ROWS[0].rsplit(",", 3)[0] + "\n",
    "empty": "",
}
READ = erp._duckdb_text_table


def _ingest(tmp: Path, name: str, files: dict[str, bytes], duckdb_reader: bool, monkeypatch):
    settings = Settings.from_env().with_overrides(tmp / name / "inbox", tmp / name / "wh")
    (settings.inbox / "erp").mkdir(parents=True)
    for file_name, data in files.items():
        (settings.inbox / "erp" / file_name).write_bytes(data)
    used = []

    def reader(*args):
        if not duckdb_reader:
            used.append(False)
            raise erp._NotExact
        try:
            columns = READ(*args)
        except erp._NotExact:
            used.append(False)
            raise
        used.append(True)
        return columns

    monkeypatch.setattr(erp, "_duckdb_text_table", reader)
    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_entities(con, settings, "r1", (ENTITY_BY_NAME["invoices"],))["invoices"]
        out = {
            "rows": con.execute("SELECT * EXCLUDE (_file_hash, _loaded_at) FROM raw.erp_invoices "
                                "ORDER BY _file_seq, _line_number").fetchall(),
            "rejects": con.execute("SELECT source_file, line_number, location, reason, raw_record "
                                   "FROM audit.rejects ORDER BY source_file, line_number").fetchall(),
            "files": con.execute("SELECT file_name, status, rows_in, rows_loaded, rows_rejected, reason "
                                 "FROM audit.files ORDER BY file_seq").fetchall(),
            "stats": (stats.files_loaded, stats.files_quarantined, stats.rows_in, stats.rows_loaded,
                      stats.rows_rejected),
        }
    return out, used


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_read_by_duckdb_loads_exactly_what_pandas_loads(tmp_path, monkeypatch, case):
    files = {"invoices.csv": CSV_CASES[case].encode("utf-8")}
    fast, used = _ingest(tmp_path, "fast", files, True, monkeypatch)
    slow, _ = _ingest(tmp_path, "slow", files, False, monkeypatch)
    assert used == [True]
    assert fast == slow


@pytest.mark.parametrize("case", sorted(NOT_EXACT_CASES))
def test_files_duckdb_cannot_read_exactly_are_left_to_pandas(tmp_path, monkeypatch, case):
    files = {"invoices.csv": NOT_EXACT_CASES[case].encode("utf-8")}
    fast, used = _ingest(tmp_path, "fast", files, True, monkeypatch)
    slow, _ = _ingest(tmp_path, "slow", files, False, monkeypatch)
    assert used == [False]
    assert fast == slow


def test_invalid_utf8_is_quarantined_with_the_byte_named(tmp_path, monkeypatch):
    files = {"invoices.csv": (HEADER + "\n" + ROWS[0] + "\n").encode() + b"00\xff9,x\n"}
    fast, used = _ingest(tmp_path, "fast", files, True, monkeypatch)
    assert used == [False]
    assert fast["files"][0][1] == "quarantined" and "expected UTF-8" in fast["files"][0][5]


def test_typed_parquet_loads_as_the_same_text_and_keeps_the_time_of_updated_at(tmp_path, monkeypatch):
    frame = pd.DataFrame({
        "invoice_id": ["007", "008"], "invoice_number": ["N-007", None], "customer_id": ["C1", "C1"],
        "issue_date": [date(2026, 1, 5), date(2026, 1, 6)],
        "due_date": pd.to_datetime(["2026-02-04", "2026-02-05"]),  # a timestamp column for a date
        "currency": ["EUR", "EUR"], "amount": [Decimal("99.99"), Decimal("0.00")],
        "status": ["issued", "issued"], "disputed": [True, False],
        "updated_at": [datetime(2026, 1, 5, 10, 30), None]})
    path = tmp_path / "invoices.parquet"
    frame.to_parquet(path)
    fast, used = _ingest(tmp_path, "fast", {"invoices_2026.parquet": path.read_bytes()}, True, monkeypatch)
    assert used == [True]
    assert fast["stats"] == (1, 0, 2, 1, 1)
    (row,) = fast["rows"]
    assert row[0] == "007" and row[5] == date(2026, 1, 5) and row[6] == date(2026, 2, 4)
    assert row[8] == Decimal("99.990000") and row[10] is True
    assert row[11] == datetime(2026, 1, 5, 10, 30)  # pandas' reader kept only the date
    reasons = fast["rejects"][0][3]
    assert "invoice_number: expected a value" in reasons and "amount: expected an amount greater than 0" in reasons


@pytest.mark.parametrize("scale", [2, 8])
def test_parquet_columns_of_their_own_type_load_and_reject_as_through_text(tmp_path, monkeypatch, scale):
    """Dates, amounts (at most 6 decimals), flags and timestamps of a Parquet file are read as
    they are, without the text round trip: the same rows, rejects, reasons and recorded values;
    an amount with more decimals still goes through text and is rejected there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    amounts = [Decimal("99.99"), Decimal("-3"), Decimal("0"), None, Decimal("12.5")]
    table = pa.table({
        "invoice_id": ["1", "2", "3", "4", "5"], "invoice_number": ["N-1", "N-2", "N-3", "N-4", "N-5"],
        "customer_id": ["C1", "C1", "C1", "C1", "C2"],
        "issue_date": pa.array([date(2026, 1, 5), None, date(2026, 1, 7), date(2026, 1, 8), date(2026, 1, 9)]),
        "due_date": pa.array([date(2026, 2, 5)] * 5),
        "currency": ["EUR", "EUR", "CHF", "EUR", "USD"],
        "amount": pa.array([a if a is None else a.quantize(Decimal(1).scaleb(-scale)) for a in amounts],
                           pa.decimal128(18, scale)),
        "status": ["issued", "issued", "paid", "issued", "cancelled"],
        "disputed": pa.array([True, None, False, True, False]),
        "updated_at": pa.array([datetime(2026, 1, 5, 10, 30, 0, 123456), None, None, None,
                                datetime(2026, 1, 9)], pa.timestamp("us")),
    })
    path = tmp_path / "invoices.parquet"
    pq.write_table(table, path)
    files = {"invoices_2026.parquet": path.read_bytes()}
    native, used = _ingest(tmp_path, "native", files, True, monkeypatch)
    monkeypatch.setattr(erp, "NATIVE_PARQUET", False)
    text, _ = _ingest(tmp_path, "text", files, True, monkeypatch)
    assert used == [True] and native == text
    loaded = [r[0] for r in native["rows"]]
    reasons = {r[1]: r[3] for r in native["rejects"]}  # by line number
    assert "issue_date: expected a value, found empty" in reasons[3]
    assert "amount: expected a value" in reasons[5]
    if scale == 2:
        assert loaded == ["1", "5"] and native["stats"][2:] == (5, 2, 3)
        assert 'amount: expected an amount greater than 0, found "-3.00"' in reasons[3]
        assert 'amount: expected an amount greater than 0, found "0.00"' in reasons[4]
        assert native["rows"][0][11] == datetime(2026, 1, 5, 10, 30, 0, 123456)
    else:
        assert loaded == [] and native["stats"][2:] == (5, 0, 5)
        assert all("at most 6 decimals" in reasons[line] for line in (2, 3, 4, 6))
