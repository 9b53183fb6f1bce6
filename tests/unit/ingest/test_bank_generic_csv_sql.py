"""The DuckDB fast path for generic bank CSV files loads exactly what the Python reader loads,
and leaves every file it cannot read exactly to the Python reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.bank import generic_csv_sql
from pipelines.ingest.bank_files import ingest_bank
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

HEADER = ("account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,"
          "reference,remittance_info")
A = "CH9300762011623852957"
B = "DE89370400440532013000"

CLEAN = {
    "plain": [
        f"{A},2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,{B},,INV-001",
        f"{A},2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,{B},,INV-001",  # twin: both kept
        f"{A},2026-10-06,,-20.50,eur,Supplier,,,rent",  # no value date, lower-case currency
        f"{B},2026-10-06,2026-10-07,18.150,CHF,Kunde AG,,BR-9,",  # every decimal kept
        f"{B},2026-10-06,2026-10-07,18.15,CHF,Kunde AG,,BR-9,again",  # same reference: k = 1
        f'{A},2026-10-07,2026-10-07,7,USD,"Müller, Söhne",,R1,"Invoices INV-1, INV-2"',
        f"{A},2026-10-07,2026-10-07,  12.5 ,USD,  Trailing Space  ,,  R2 , text\u00a0",
        f"{A},2026-10-08,2026-10-08,3.000001,DEM,Old Money,,,historic currency",
    ],
    "crlf": [f"{A},2026-10-05,2026-10-05,100.00,EUR,Alpha,{B},X1,INV-001",
             f"{A},2026-10-05,2026-10-05,-1.00,EUR,Beta,{B},X2,"],
    "short_rows": [f"{A},2026-10-05,2026-10-05,1.00,EUR,Alpha",  # missing trailing fields
                   f"{A},2026-10-06,2026-10-06,2.00,EUR"],
    "x_same_layout": [f"{A},2026-10-09,,5.00,EUR,Gamma,,R1,again R1",  # R1 again, another file: k = 0
                      f"{A},2026-10-09,,6.00,EUR,Gamma,,,no ref"],
    "y_other_order": [f"R7,{B},2026-10-10,7.00,EUR,Delta,,,text"],
    "z_semicolon": [f"{A};2026-10-11;;8.00;EUR;Eps;;;semicolons, and a comma inside"],
}
LAYOUTS = {"y_other_order": "reference,account,booking_date,amount,currency,counterparty_name,"
                            "counterparty_account,value_date,remittance_info",
           "z_semicolon": HEADER.replace(",", ";")}
NOT_FAST = {  # the Python reader decides these (rejects, quarantine, odd layouts)
    "bad_currency": [f"{A},2026-10-05,2026-10-05,1.00,HAT,Nobody,,,x"],
    "zero_amount": [f"{A},2026-10-05,2026-10-05,0.00,EUR,Nobody,,,x"],
    "plus_sign": [f"{A},2026-10-05,2026-10-05,+1.00,EUR,Nobody,,,x"],
    "bad_date": [f"{A},2026-02-30,,1.00,EUR,Nobody,,,x"],
    "no_account": [",2026-10-05,,1.00,EUR,Nobody,,,x"],
    "blank_line": [f"{A},2026-10-05,,1.00,EUR,Nobody,,,x", "", f"{A},2026-10-06,,2.00,EUR,N,,,y"],
    "newline_in_quotes": [f'{A},2026-10-05,,1.00,EUR,Nobody,,,"two\nlines"'],
    "extra_field": [f"{A},2026-10-05,,1.00,EUR,Nobody,,,x,surplus"],
    "seven_decimals": [f"{A},2026-10-05,,1.0000001,EUR,Nobody,,,x"],
}

STAGE_ALL = generic_csv_sql.stage_all
COMPARED = ("transaction_id, bank_reference, account, statement_id, sequence_number, booking_date, "
            "value_date, effective_date, amount, currency, counterparty_name, counterparty_account, "
            "remittance_info, structured_reference, end_to_end_id, is_reversal, reversal_of, "
            "return_reason, source_file, bank_format, _location, _source_file, _line_number")


def _write(inbox: Path, name: str, rows: list[str]) -> None:
    newline = "\r\n" if name == "crlf" else "\n"
    (inbox / "bank").mkdir(parents=True, exist_ok=True)
    header = LAYOUTS.get(name, HEADER)
    (inbox / "bank" / f"{name}.csv").write_bytes((newline.join([header, *rows]) + newline).encode())


def _load(tmp: Path, cases: dict[str, list[str]], fast: bool, monkeypatch) -> dict:
    settings = Settings.from_env().with_overrides(tmp / "inbox", tmp / ("wh_fast" if fast else "wh_slow"))
    for name, rows in cases.items():
        _write(settings.inbox, name, rows)
    taken = []

    def spy(con, candidates):
        result = STAGE_ALL(con, candidates) if fast else {}
        taken.extend(sorted(result))
        return result

    monkeypatch.setattr(generic_csv_sql, "stage_all", spy)
    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_bank(con, settings, "r1")
        out = {
            "rows": con.execute(f"SELECT {COMPARED} FROM raw.bank_transactions "
                                "ORDER BY _source_file, _location").fetchall(),
            "statements": con.execute("SELECT * EXCLUDE (_file_hash, _file_seq, _loaded_at, _run_id) "
                                      "FROM raw.bank_statements ORDER BY _source_file, account").fetchall(),
            "files": con.execute("SELECT relative_path, status, rows_in, rows_loaded, rows_rejected, "
                                 "rows_duplicate, reason FROM audit.files ORDER BY relative_path").fetchall(),
            "rejects": con.execute("SELECT source_file, location, reason FROM audit.rejects "
                                   "ORDER BY source_file, location").fetchall(),
            "stats": (stats.files_loaded, stats.rows_in, stats.rows_loaded, stats.rows_rejected),
        }
    out["taken"] = taken
    return out


def test_clean_files_load_exactly_as_the_python_reader_loads_them(tmp_path, monkeypatch):
    slow = _load(tmp_path, CLEAN, fast=False, monkeypatch=monkeypatch)
    fast = _load(tmp_path, CLEAN, fast=True, monkeypatch=monkeypatch)
    assert len(fast["taken"]) == len(CLEAN)  # every file read by DuckDB
    assert len(slow["rows"]) == 13  # short_rows repeats two ids of plain, x_same_layout one
    for key in ("rows", "statements", "files", "rejects", "stats"):
        assert fast[key] == slow[key], key


@pytest.mark.parametrize("name", sorted(NOT_FAST))
def test_files_the_python_reader_must_judge_are_left_to_it(tmp_path, monkeypatch, name):
    slow = _load(tmp_path, {name: NOT_FAST[name]}, fast=False, monkeypatch=monkeypatch)
    fast = _load(tmp_path, {name: NOT_FAST[name]}, fast=True, monkeypatch=monkeypatch)
    assert fast["taken"] == []
    for key in ("rows", "statements", "files", "rejects", "stats"):
        assert fast[key] == slow[key], key


def test_a_resent_file_counts_its_rows_as_duplicates(tmp_path):
    settings = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    _write(settings.inbox, "plain", CLEAN["plain"])
    with connect(settings) as con:
        ensure_schema(con)
        ingest_bank(con, settings, "r1")
        extended = [*CLEAN["plain"], f"{A},2026-10-09,,9.99,EUR,New,,,late row"]
        _write(settings.inbox, "plain_extended", extended)
        stats = ingest_bank(con, settings, "r2")
        files = con.execute("SELECT rows_in, rows_loaded, rows_duplicate FROM audit.files "
                            "ORDER BY file_seq").fetchall()
    assert stats.rows_loaded == 1
    assert files == [(8, 8, 0), (9, 1, 8)]


def test_the_sql_strip_strips_what_python_strips():
    python = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert python == generic_csv_sql.PY_WHITESPACE


def test_files_loaded_in_several_batches_load_exactly_as_in_one(tmp_path, monkeypatch):
    from pipelines.ingest import bank_files

    slow = _load(tmp_path, CLEAN, fast=False, monkeypatch=monkeypatch)
    monkeypatch.setattr(bank_files, "BATCH_ROWS", 3)  # a batch every file or two
    fast = _load(tmp_path, CLEAN, fast=True, monkeypatch=monkeypatch)
    assert len(fast["taken"]) == len(CLEAN)
    for key in ("rows", "statements", "files", "rejects", "stats"):
        assert fast[key] == slow[key], key
