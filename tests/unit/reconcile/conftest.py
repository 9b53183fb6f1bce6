"""Small hand-made matcher inputs in an in-memory DuckDB with the staging tables it reads."""

from datetime import date

import duckdb
import pytest

from pipelines.reconcile.matcher import match
from pipelines.settings import MatcherSettings
from pipelines.warehouse import AUDIT_DDL


@pytest.fixture
def con():
    con = make_con()
    yield con
    con.close()


def make_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(AUDIT_DDL)
    con.execute("""
        CREATE SCHEMA staging;
        CREATE TABLE staging.stg_erp__customers (
            customer_id VARCHAR, name VARCHAR, aliases VARCHAR, bank_accounts VARCHAR);
        CREATE TABLE staging.stg_erp__invoices (
            invoice_id VARCHAR, invoice_number VARCHAR, customer_id VARCHAR, issue_date DATE,
            due_date DATE, currency VARCHAR, amount DECIMAL(18,2), status VARCHAR,
            -- as the dbt model stores it (tests/e2e/test_generated_night.py checks it agrees)
            invoice_number_digits VARCHAR GENERATED ALWAYS AS (regexp_replace(invoice_number, '[^1-9]', '', 'g')));
        CREATE TABLE staging.stg_erp__credit_notes (
            credit_note_id VARCHAR, invoice_id VARCHAR, customer_id VARCHAR, issue_date DATE,
            currency VARCHAR, amount DECIMAL(18,2));
        CREATE TABLE staging.stg_bank__transactions (
            transaction_id VARCHAR, bank_reference VARCHAR, effective_date DATE,
            amount DECIMAL(18,2), currency VARCHAR, counterparty_name VARCHAR,
            counterparty_account VARCHAR, remittance_info VARCHAR, structured_reference VARCHAR,
            end_to_end_id VARCHAR, is_reversal BOOLEAN, reversal_of VARCHAR, return_reason VARCHAR);
        CREATE TABLE staging.stg_manual__decisions (
            transaction_id VARCHAR, bank_reference VARCHAR, action VARCHAR, invoice_number VARCHAR,
            invoice_id VARCHAR, amount DECIMAL(18,2), currency VARCHAR, decided_by VARCHAR,
            decided_at TIMESTAMP, note VARCHAR, source_file VARCHAR, file_seq BIGINT,
            line_number BIGINT);
    """)
    return con


def add_customer(con, customer_id, bank_accounts="", name=None, aliases=""):
    con.execute("INSERT INTO staging.stg_erp__customers VALUES (?, ?, ?, ?)",
                [customer_id, name or f"Customer {customer_id}", aliases, bank_accounts])


def add_invoice(con, invoice_id, number, amount, issue="2026-01-01", currency="EUR",
                status="issued", customer="C1", due=None):
    con.execute("INSERT INTO staging.stg_erp__invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [invoice_id, number, customer, issue, due or issue, currency, amount, status])


def add_credit_note(con, cn_id, invoice_id, amount, issued, customer="C1"):
    con.execute("INSERT INTO staging.stg_erp__credit_notes VALUES (?, ?, ?, ?, 'EUR', ?)",
                [cn_id, invoice_id, customer, issued, amount])


def add_payment(con, tid, day, amount, text="", currency="EUR", reversal=False, account=None,
                name=None, structured="", e2e="", reversal_of=None, return_reason=None, ref=None):
    con.execute("INSERT INTO staging.stg_bank__transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tid, ref or tid, day, amount, currency, name, account, text, structured, e2e,
                 reversal, reversal_of, return_reason])


def add_decision(con, action, decided_at, tid=None, ref=None, invoice_id=None, number=None,
                 amount=None, by="anna@finance"):
    con.execute("INSERT INTO staging.stg_manual__decisions VALUES (?, ?, ?, ?, ?, ?, 'EUR', ?, ?, '', 'manual/d.csv', 1, 2)",
                [tid, ref, action, number, invoice_id, amount, by, decided_at])


def run(con, as_of=date(2026, 12, 31), **config):
    return match(con, as_of, MatcherSettings(**config))


def allocations(result):
    """(transaction, invoice, amount, rule) of cash allocations, in ledger order."""
    return [(e.transaction_id, e.invoice_id, str(e.amount), e.rule) for e in result.entries
            if e.kind == "allocation"]


def outcome_of(result, tid):
    found = [o for o in result.outcomes if o.transaction_id == tid]
    assert len(found) == 1, found
    return found[0]
