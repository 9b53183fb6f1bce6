"""`arw exceptions export`: the open reconciliation exceptions as a worklist for a person.

The worklist is a CSV file in the layout of ``manual/decisions*.csv`` (CONTRACT §1): the
decision columns first, then read-only context columns. One row per candidate invoice of each
open exception (one row when the matcher saw no candidate), with the transaction, the
candidate's invoice number, the amount allocating it would apply and the currency filled in;
``action``, ``decided_by`` and ``decided_at`` are left blank for the person. The filled-in
file goes into ``<inbox>/manual/`` as ``decisions*.csv``: the ingest keeps the decision
columns and ignores the context columns; a row whose action is still blank is not a decision
and is rejected as such (counted, with its reason), so nothing disappears silently.

It reads the published warehouse read-only, so it never waits for, nor blocks, a night. With
ARW_MASK_PII on, the context columns naming the payer show pseudonyms (the decision columns
do not depend on them).
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pipelines.errors import UsageError
from pipelines.settings import Settings
from pipelines.warehouse import open_read_only

# Exactly the columns of manual/decisions*.csv, in the contract's order.
DECISION_COLUMNS = ("transaction_id", "bank_reference", "action", "invoice_number", "invoice_id",
                    "amount", "currency", "decided_by", "decided_at", "note")
# Left blank for the person to fill in.
BLANK_COLUMNS = ("action", "invoice_id", "decided_by", "decided_at", "note")
# Read-only context; the ingest ignores them (none has a decision column's name).
CONTEXT_COLUMNS = ("reason_code", "candidate_count", "first_seen_date", "payment_date",
                   "payment_amount", "payment_unapplied", "counterparty_name",
                   "counterparty_account", "remittance_info", "payer_customer_id",
                   "payer_customer_name", "candidate_customer_id", "candidate_customer_name",
                   "candidate_issue_date", "candidate_due_date", "candidate_invoice_amount",
                   "candidate_open_amount")
COLUMNS = DECISION_COLUMNS + CONTEXT_COLUMNS

WORKLIST_SQL = """
WITH exceptions AS (
    SELECT e.*, coalesce(r.unapplied_amount, e.amount) AS unapplied_amount
    FROM marts.fct_reconciliation_exceptions e
    LEFT JOIN marts.fct_bank_receipts r USING (transaction_id)
),
candidates AS (
    SELECT transaction_id, invoice_number, position
    FROM (
        SELECT transaction_id, trim(unnest(string_split(candidate_invoice_numbers, ';'))) AS invoice_number,
               generate_subscripts(string_split(candidate_invoice_numbers, ';'), 1) AS position
        FROM marts.fct_reconciliation_exceptions
        WHERE coalesce(candidate_invoice_numbers, '') <> ''
    )
    WHERE invoice_number <> ''
),
counted AS (
    SELECT transaction_id, count(*) AS candidate_count FROM candidates GROUP BY transaction_id
)
SELECT
    e.transaction_id,
    e.bank_reference,
    c.invoice_number,
    CASE WHEN i.open_amount > 0 THEN least(i.open_amount, e.unapplied_amount) END AS amount,
    e.currency,
    e.reason_code,
    coalesce(n.candidate_count, 0) AS candidate_count,
    e.first_seen_date,
    e.effective_date AS payment_date,
    e.amount AS payment_amount,
    e.unapplied_amount AS payment_unapplied,
    e.counterparty_name,
    e.counterparty_account,
    e.remittance_info,
    e.payer_customer_id,
    payer.name AS payer_customer_name,
    i.customer_id AS candidate_customer_id,
    customer.name AS candidate_customer_name,
    i.issue_date AS candidate_issue_date,
    i.due_date AS candidate_due_date,
    i.amount AS candidate_invoice_amount,
    i.open_amount AS candidate_open_amount
FROM exceptions e
LEFT JOIN candidates c USING (transaction_id)
LEFT JOIN counted n USING (transaction_id)
LEFT JOIN marts.fct_invoices i ON i.invoice_number = c.invoice_number
LEFT JOIN marts.dim_customers customer ON customer.customer_id = i.customer_id
LEFT JOIN marts.dim_customers payer ON payer.customer_id = e.payer_customer_id
ORDER BY e.first_seen_date, e.effective_date, e.transaction_id, c.position
"""


@dataclass(frozen=True)
class Worklist:
    rows: list[dict[str, object]]

    @property
    def exceptions(self) -> int:
        return len({r["transaction_id"] for r in self.rows})

    @property
    def candidate_rows(self) -> int:
        return sum(1 for r in self.rows if r["invoice_number"])


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def read_worklist(published_db: Path) -> Worklist:
    """The open exceptions with their candidates, from the published warehouse (read-only)."""
    if not published_db.exists():
        raise UsageError(f"{published_db}: expected a published warehouse, found none "
                         "(run `arw nightly` first)")
    con = open_read_only(published_db)
    try:
        relation = con.sql(WORKLIST_SQL)
        names = relation.columns
        records = relation.fetchall()
    finally:
        con.close()
    rows = []
    for record in records:
        row: dict[str, object] = dict.fromkeys(COLUMNS)
        row.update(zip(names, record, strict=True))
        rows.append(row)
    return Worklist(rows)


def render_csv(worklist: Worklist) -> str:
    """The worklist as CSV text: header, then one line per row; blank cells for the person."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in worklist.rows:
        writer.writerow(_text(row[c]) for c in COLUMNS)
    return buffer.getvalue()


def export_exceptions(settings: Settings, output: Path | None = None) -> Worklist:
    """Write the worklist to `output` (UTF-8 with a byte-order mark, so spreadsheet programs
    show names right; the ingest reads it either way) or to standard output."""
    worklist = read_worklist(settings.published_db)
    text = render_csv(worklist)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8-sig")
    return worklist


def export_message(worklist: Worklist, settings: Settings, output: Path | None) -> str:
    where = str(output) if output else "standard output"
    return (f"Wrote {worklist.exceptions:,} open exception(s) with {worklist.candidate_rows:,} "
            f"candidate invoice row(s) ({len(worklist.rows):,} rows) to {where}.\n"
            "Fill in action (allocate, unapply, on_account, not_ar, write_off), decided_by and "
            "decided_at on the rows you decide (adjust invoice_number and amount if needed), "
            "leave the others blank, and save it as "
            f"{settings.inbox / 'manual'}/decisions_<date>.csv for the next night.\n"
            "Rows left blank are not loaded; the night counts them as rejected "
            "\"no decision filled in (action blank)\".")
