"""`arw exceptions export`: the worklist's CSV shape, and how the ingest takes it back."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.errors import UsageError
from pipelines.exceptions import (
    CONTEXT_COLUMNS,
    DECISION_COLUMNS,
    export_exceptions,
    read_worklist,
    render_csv,
)
from pipelines.ingest.erp import ENTITY_BY_NAME, ingest_entities
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema


def _published(path: Path) -> Path:
    """A published file with the three exceptions the tests need, in the marts' layout."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("""
        CREATE TABLE marts.fct_reconciliation_exceptions AS SELECT * FROM (VALUES
            ('T1', 'B1', DATE '2026-10-05', 300.00::DECIMAL(18,2), 'EUR', 'Alpha GmbH',
             'DE89370400440532013000', 'INV-1 INV-2?', 'SEVERAL_INVOICES_FIT_AMOUNT',
             'INV-001;INV-002', 'C1', DATE '2026-10-06'),
            ('T2', NULL, DATE '2026-10-07', 55.00::DECIMAL(18,2), 'EUR', 'Unknown', NULL,
             'thanks', 'UNKNOWN_PAYER', NULL, NULL, DATE '2026-10-07'),
            ('T0', 'B0', DATE '2026-10-01', 80.00::DECIMAL(18,2), 'CHF', 'Gamma SA', NULL,
             'INV-O03', 'QUOTED_NUMBER_MAY_BE_TYPO', 'INV-003', NULL, DATE '2026-10-02')
        ) v(transaction_id, bank_reference, effective_date, amount, currency, counterparty_name,
            counterparty_account, remittance_info, reason_code, candidate_invoice_numbers,
            payer_customer_id, first_seen_date)""")
    con.execute("""
        CREATE TABLE marts.fct_bank_receipts AS SELECT * FROM (VALUES
            ('T1', 300.00::DECIMAL(18,2)), ('T2', 55.00::DECIMAL(18,2)), ('T0', 80.00::DECIMAL(18,2))
        ) v(transaction_id, unapplied_amount)""")
    con.execute("""
        CREATE TABLE marts.fct_invoices AS SELECT * FROM (VALUES
            ('1', 'INV-001', 'C1', DATE '2026-08-01', DATE '2026-08-31', 500.00::DECIMAL(18,2),
             500.00::DECIMAL(18,2)),
            ('2', 'INV-002', 'C2', DATE '2026-09-01', DATE '2026-09-30', 300.00::DECIMAL(18,2),
             120.50::DECIMAL(18,2)),
            ('3', 'INV-003', 'C3', DATE '2026-09-01', DATE '2026-09-30', 80.00::DECIMAL(18,2),
             0.00::DECIMAL(18,2))
        ) v(invoice_id, invoice_number, customer_id, issue_date, due_date, amount, open_amount)""")
    con.execute("""
        CREATE TABLE marts.dim_customers AS SELECT * FROM (VALUES
            ('C1', 'Alpha GmbH'), ('C2', 'Beta AG'), ('C3', 'Gamma SA')) v(customer_id, name)""")
    con.close()
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "wh").mkdir()
    (tmp_path / "inbox" / "manual").mkdir(parents=True)
    _published(tmp_path / "wh" / "ar.duckdb")
    return Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")


def _rows(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def test_the_decision_columns_come_first_in_the_contract_order_then_the_context(settings):
    header, _ = _rows(render_csv(read_worklist(settings.published_db)))
    assert tuple(header[:len(DECISION_COLUMNS)]) == (
        "transaction_id", "bank_reference", "action", "invoice_number", "invoice_id", "amount",
        "currency", "decided_by", "decided_at", "note")
    assert tuple(header[len(DECISION_COLUMNS):]) == CONTEXT_COLUMNS
    assert not set(CONTEXT_COLUMNS) & {c.name for c in ENTITY_BY_NAME["decisions"].columns}


def test_one_row_per_candidate_with_the_amount_it_would_apply_and_the_decision_left_blank(settings):
    worklist = read_worklist(settings.published_db)
    assert (worklist.exceptions, worklist.candidate_rows, len(worklist.rows)) == (3, 3, 4)
    _, rows = _rows(render_csv(worklist))
    # oldest first (first_seen_date), candidates in the matcher's order
    assert [(r["transaction_id"], r["invoice_number"]) for r in rows] == [
        ("T0", "INV-003"), ("T1", "INV-001"), ("T1", "INV-002"), ("T2", "")]
    for row in rows:
        assert row["action"] == row["invoice_id"] == row["decided_by"] == row["decided_at"] == ""
        assert row["note"] == ""
    t0, t1a, t1b, t2 = rows
    # the open amount, at most what the payment has left; nothing when the invoice is settled
    assert (t1a["amount"], t1b["amount"], t0["amount"], t2["amount"]) == ("300.00", "120.50", "", "")
    assert (t1a["currency"], t0["currency"]) == ("EUR", "CHF")
    assert (t1a["reason_code"], t1a["candidate_count"], t1a["payment_date"], t1a["payment_amount"]) \
        == ("SEVERAL_INVOICES_FIT_AMOUNT", "2", "2026-10-05", "300.00")
    assert (t1b["candidate_customer_id"], t1b["candidate_customer_name"], t1b["candidate_due_date"],
            t1b["candidate_open_amount"]) == ("C2", "Beta AG", "2026-09-30", "120.50")
    assert (t1a["payer_customer_name"], t1a["counterparty_account"], t1a["remittance_info"]) == (
        "Alpha GmbH", "DE89370400440532013000", "INV-1 INV-2?")
    assert (t2["bank_reference"], t2["reason_code"], t2["candidate_count"]) == ("", "UNKNOWN_PAYER", "0")


def test_the_file_is_utf8_with_a_byte_order_mark_and_refuses_a_missing_warehouse(settings, tmp_path):
    out = tmp_path / "work" / "worklist.csv"
    export_exceptions(settings, out)
    assert out.read_bytes().startswith(b"\xef\xbb\xbftransaction_id,")
    missing = settings.with_overrides(None, tmp_path / "nowhere")
    with pytest.raises(UsageError, match="expected a published warehouse, found none"):
        read_worklist(missing.published_db)


def test_the_filled_in_worklist_loads_decided_rows_and_rejects_blank_ones_with_a_reason(settings):
    _, rows = _rows(render_csv(read_worklist(settings.published_db)))
    rows[1].update(action="allocate", decided_by="Erika Muster", decided_at="2026-10-08 09:15",
                   note="phoned the customer")
    rows[3].update(action="not_ar", decided_by="Erika Muster", decided_at="2026-10-08")
    path = settings.inbox / "manual" / "decisions_2026-10-08.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:  # as a spreadsheet saves it
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_entities(con, settings, "r1", (ENTITY_BY_NAME["decisions"],))["decisions"]
        loaded = con.execute("SELECT transaction_id, action, invoice_number, amount, decided_by "
                             "FROM raw.manual_decisions ORDER BY _line_number").fetchall()
        rejects = con.execute("SELECT line_number, reason FROM audit.rejects ORDER BY 1").fetchall()
        files = con.execute("SELECT status, rows_in, rows_loaded, rows_rejected FROM audit.files"
                            ).fetchall()
    assert (stats.files_quarantined, stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (0, 4, 2, 2)
    assert files == [("loaded", 4, 2, 2)]
    assert loaded == [("T1", "allocate", "INV-001", Decimal("300.000000"), "Erika Muster"),
                      ("T2", "not_ar", None, None, "Erika Muster")]
    assert rejects == [
        (2, "manual/decisions_2026-10-08.csv, line 2: no decision filled in (action blank)"),
        (4, "manual/decisions_2026-10-08.csv, line 4: no decision filled in (action blank)")]
