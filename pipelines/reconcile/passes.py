"""Matching passes: which invoices does each incoming payment pay?

v0 has one rule, ``exact_invoice_number``: an invoice number quoted in the remittance text,
whole token, case-insensitive, of an invoice in the payment's currency, issued on or before
the payment's effective date and open at that moment. When the payer is known from its
account or its exact name or alias (master data) and the quoted invoice belongs to another customer, the evidence
conflicts and nothing is applied (a typo can quote another customer's number); an unknown
payer quoting an invoice (a third party paying) is applied. Everything else stays unapplied.

The candidate search is set-based SQL (tokens of every remittance text joined to the
invoice numbers); Python only walks the candidate pairs in (effective_date, transaction_id)
order to keep each invoice's open amount as of that moment (CONTRACT §3).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from itertools import groupby

import duckdb

from pipelines.reconcile.ledger import Allocation

RULE_EXACT_NUMBER = "exact_invoice_number"
RULE_EXACT_NUMBER_VERSION = "0.1"

# A token: letters and digits, with inner separators kept (INV-2025-004711, 2025/17, A.12).
TOKEN_PATTERN = r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*"


def normalise_name_sql(column: str) -> str:
    """A company name reduced to letters and digits, upper case, for exact comparison."""
    return f"regexp_replace(upper(strip_accents(coalesce({column}, ''))), '[^A-Z0-9]', '', 'g')"


def candidate_pairs_sql(as_of: date) -> str:
    return f"""
        WITH customer_accounts AS (
            SELECT upper(replace(trim(acct), ' ', '')) AS account, min(customer_id) AS customer_id
            FROM (SELECT customer_id, unnest(string_split(coalesce(bank_accounts, ''), ';')) AS acct
                  FROM staging.stg_erp__customers)
            WHERE trim(acct) <> ''
            GROUP BY 1
            HAVING count(DISTINCT customer_id) = 1
        ),
        customer_names AS (
            -- the name and every alias, normalised; a name two customers share identifies no one
            SELECT {normalise_name_sql('n')} AS name_key, min(customer_id) AS customer_id
            FROM (SELECT customer_id, name AS n FROM staging.stg_erp__customers
                  UNION ALL
                  SELECT customer_id, unnest(string_split(coalesce(aliases, ''), ';'))
                  FROM staging.stg_erp__customers)
            WHERE trim(n) <> ''
            GROUP BY 1
            HAVING count(DISTINCT customer_id) = 1
        ),
        receipts AS (
            SELECT transaction_id, effective_date, amount, currency, remittance_info,
                   coalesce(ca.customer_id, cn.customer_id) AS payer_customer_id
            FROM staging.stg_bank__transactions t
            LEFT JOIN customer_accounts ca
                   ON ca.account = upper(replace(t.counterparty_account, ' ', ''))
            LEFT JOIN customer_names cn
                   ON cn.name_key = {normalise_name_sql('t.counterparty_name')}
            WHERE amount > 0 AND NOT is_reversal
              AND effective_date <= DATE '{as_of.isoformat()}'
              AND coalesce(remittance_info, '') <> ''
        ),
        tokens AS (
            SELECT transaction_id, effective_date, amount, currency, payer_customer_id,
                   unnest(toks) AS token, unnest(range(len(toks))) AS position
            FROM (SELECT *, regexp_extract_all(remittance_info, '{TOKEN_PATTERN}') AS toks
                  FROM receipts)
        ),
        invoices AS (
            SELECT invoice_id, upper(invoice_number) AS number_key, invoice_number, currency,
                   issue_date, amount, customer_id
            FROM staging.stg_erp__invoices
            WHERE status = 'issued'
        ),
        pairs AS (
            SELECT t.transaction_id, t.effective_date, t.amount AS payment_amount, t.currency,
                   min(t.position) AS position, t.token, i.invoice_id, i.invoice_number,
                   i.amount AS invoice_amount, i.customer_id
            FROM tokens t
            JOIN invoices i ON i.number_key = upper(t.token)
                           AND i.currency = t.currency
                           AND i.issue_date <= t.effective_date
                           AND (t.payer_customer_id IS NULL OR t.payer_customer_id = i.customer_id)
            GROUP BY ALL
        )
        SELECT transaction_id, effective_date, payment_amount, currency, position, token,
               invoice_id, invoice_number, invoice_amount, customer_id
        FROM pairs
        ORDER BY effective_date, transaction_id, position
    """


class _OpenItems:
    """Open amounts of issued invoices at a moment, as the walk in date order allocates."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.allocated: dict[str, Decimal] = {}
        self.by_customer: dict[tuple[str, str], list[tuple[str, date, Decimal]]] = {}
        for invoice_id, customer_id, currency, issue_date, amount in con.execute(
                "SELECT invoice_id, customer_id, currency, issue_date, amount "
                "FROM staging.stg_erp__invoices WHERE status = 'issued' ORDER BY issue_date, invoice_id"
        ).fetchall():
            self.by_customer.setdefault((customer_id, currency), []).append((invoice_id, issue_date, amount))
        self.credits: dict[str, list[tuple[date, Decimal]]] = {}
        for invoice_id, issue_date, amount in con.execute(
                "SELECT invoice_id, issue_date, amount FROM staging.stg_erp__credit_notes "
                "WHERE invoice_id IS NOT NULL").fetchall():
            self.credits.setdefault(invoice_id, []).append((issue_date, amount))

    def open_amount(self, invoice_id: str, amount: Decimal, on: date) -> Decimal:
        credited = sum((a for d, a in self.credits.get(invoice_id, ()) if d <= on), Decimal(0))
        return amount - credited - self.allocated.get(invoice_id, Decimal(0))

    def others_open_equal_to(self, customer_id: str, currency: str, on: date, amount: Decimal,
                             besides: str) -> list[str]:
        return [inv for inv, issued, total in self.by_customer.get((customer_id, currency), ())
                if inv != besides and issued <= on and self.open_amount(inv, total, on) == amount]


def exact_number_allocations(con: duckdb.DuckDBPyConnection, as_of: date) -> list[Allocation]:
    """The allocations of the exact-number rule, walking payments in (date, id) order.

    A payment quoting one invoice whose open amount differs from the payment, while another
    open invoice of the same customer is open for exactly the payment's amount, is not
    applied: the quoted number may be a typo for the other one, so a person decides.
    """
    rows = con.execute(candidate_pairs_sql(as_of)).fetchall()
    items = _OpenItems(con)
    result: list[Allocation] = []
    for _, group in groupby(rows, key=lambda r: r[1]):
        quotes = list(group)
        (transaction_id, effective_date, payment_amount, currency, *_rest) = quotes[0]
        left = Decimal(payment_amount)
        if len(quotes) == 1:
            *_head, invoice_id, _number, invoice_amount, customer_id = quotes[0][:10]
            quoted_open = items.open_amount(invoice_id, invoice_amount, effective_date)
            if quoted_open != left and items.others_open_equal_to(
                    customer_id, currency, effective_date, left, besides=invoice_id):
                continue
        for (_, _, _, _, _, token, invoice_id, invoice_number, invoice_amount, _) in quotes:
            if left <= 0:
                break
            open_amount = items.open_amount(invoice_id, invoice_amount, effective_date)
            if open_amount <= 0:
                continue
            amount = min(left, open_amount)
            left -= amount
            items.allocated[invoice_id] = items.allocated.get(invoice_id, Decimal(0)) + amount
            evidence = json.dumps({"field": "remittance_info", "token": token,
                                   "invoice_number": invoice_number,
                                   "open_before": str(open_amount)}, sort_keys=True)
            result.append(Allocation(transaction_id, invoice_id, amount, currency, effective_date,
                                     RULE_EXACT_NUMBER, RULE_EXACT_NUMBER_VERSION, 1.0, evidence))
    return result
