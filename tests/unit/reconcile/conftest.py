"""Small hand-made matcher inputs in an in-memory DuckDB with the staging tables it reads."""

import duckdb
import pytest

from pipelines.warehouse import AUDIT_DDL


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(AUDIT_DDL)
    con.execute("""
        CREATE SCHEMA staging;
        CREATE TABLE staging.stg_erp__invoices (
            invoice_id VARCHAR, invoice_number VARCHAR, customer_id VARCHAR, issue_date DATE,
            due_date DATE, currency VARCHAR, amount DECIMAL(18,2), status VARCHAR);
        CREATE TABLE staging.stg_erp__credit_notes (
            credit_note_id VARCHAR, invoice_id VARCHAR, customer_id VARCHAR, issue_date DATE,
            currency VARCHAR, amount DECIMAL(18,2));
        CREATE TABLE staging.stg_erp__customers (
            customer_id VARCHAR, name VARCHAR, aliases VARCHAR, bank_accounts VARCHAR);
        CREATE TABLE staging.stg_bank__transactions (
            transaction_id VARCHAR, effective_date DATE, amount DECIMAL(18,2), currency VARCHAR,
            remittance_info VARCHAR, is_reversal BOOLEAN, counterparty_account VARCHAR,
            counterparty_name VARCHAR);
    """)
    yield con
    con.close()


def add_invoice(con, invoice_id, number, amount, issue="2026-01-01", currency="EUR",
                status="issued", customer="C1"):
    con.execute("INSERT INTO staging.stg_erp__invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [invoice_id, number, customer, issue, issue, currency, amount, status])


def add_payment(con, tid, date, amount, text, currency="EUR", reversal=False, account=None,
                name=None):
    con.execute("INSERT INTO staging.stg_bank__transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [tid, date, amount, currency, text, reversal, account, name])


def add_customer(con, customer_id, bank_accounts="", name=None, aliases=""):
    con.execute("INSERT INTO staging.stg_erp__customers VALUES (?, ?, ?, ?)",
                [customer_id, name or f"Customer {customer_id}", aliases, bank_accounts])
