"""Matching passes: which invoices does each incoming payment pay?

v0 has one rule, ``exact_invoice_number``: an invoice number quoted in the remittance text,
whole token, case-insensitive, of an invoice in the payment's currency, issued on or before
the payment's effective date and open at that moment. Everything else stays unapplied.

The candidate search is set-based SQL (tokens of every remittance text joined to the
invoice numbers); Python only walks the candidate pairs in (effective_date, transaction_id)
order to keep each invoice's open amount as of that moment (CONTRACT §3).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import duckdb

from pipelines.reconcile.ledger import Allocation

RULE_EXACT_NUMBER = "exact_invoice_number"
RULE_EXACT_NUMBER_VERSION = "0.1"

# A token: letters and digits, with inner separators kept (INV-2025-004711, 2025/17, A.12).
TOKEN_PATTERN = r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*"


def candidate_pairs_sql(as_of: date) -> str:
    return f"""
        WITH receipts AS (
            SELECT transaction_id, effective_date, amount, currency, remittance_info
            FROM staging.stg_bank__transactions
            WHERE amount > 0 AND NOT is_reversal
              AND effective_date <= DATE '{as_of.isoformat()}'
              AND coalesce(remittance_info, '') <> ''
        ),
        tokens AS (
            SELECT transaction_id, effective_date, amount, currency,
                   unnest(toks) AS token, unnest(range(len(toks))) AS position
            FROM (SELECT *, regexp_extract_all(remittance_info, '{TOKEN_PATTERN}') AS toks
                  FROM receipts)
        ),
        invoices AS (
            SELECT invoice_id, upper(invoice_number) AS number_key, invoice_number, currency,
                   issue_date, amount
            FROM staging.stg_erp__invoices
            WHERE status = 'issued'
        ),
        pairs AS (
            SELECT t.transaction_id, t.effective_date, t.amount AS payment_amount, t.currency,
                   min(t.position) AS position, t.token, i.invoice_id, i.invoice_number,
                   i.amount AS invoice_amount
            FROM tokens t
            JOIN invoices i ON i.number_key = upper(t.token)
                           AND i.currency = t.currency
                           AND i.issue_date <= t.effective_date
            GROUP BY ALL
        )
        SELECT p.*,
               coalesce((SELECT sum(c.amount) FROM staging.stg_erp__credit_notes c
                         WHERE c.invoice_id = p.invoice_id
                           AND c.issue_date <= p.effective_date), 0) AS credited_at_payment
        FROM pairs p
        ORDER BY p.effective_date, p.transaction_id, p.position
    """


def exact_number_allocations(con: duckdb.DuckDBPyConnection, as_of: date) -> list[Allocation]:
    rows = con.execute(candidate_pairs_sql(as_of)).fetchall()
    allocated: dict[str, Decimal] = {}
    remaining: dict[str, Decimal] = {}
    result: list[Allocation] = []
    for (transaction_id, effective_date, payment_amount, currency, _position, token, invoice_id,
         invoice_number, invoice_amount, credited) in rows:
        left = remaining.setdefault(transaction_id, Decimal(payment_amount))
        if left <= 0:
            continue
        open_amount = Decimal(invoice_amount) - Decimal(credited) - allocated.get(invoice_id, Decimal(0))
        if open_amount <= 0:
            continue
        amount = min(left, open_amount)
        remaining[transaction_id] = left - amount
        allocated[invoice_id] = allocated.get(invoice_id, Decimal(0)) + amount
        evidence = json.dumps({"field": "remittance_info", "token": token,
                               "invoice_number": invoice_number,
                               "open_before": str(open_amount)}, sort_keys=True)
        result.append(Allocation(transaction_id, invoice_id, amount, currency, effective_date,
                                 RULE_EXACT_NUMBER, RULE_EXACT_NUMBER_VERSION, 1.0, evidence))
    return result
