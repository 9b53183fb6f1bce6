"""What ``arw bank parse FILE`` prints (CONTRACT §5).

The file's normalised transactions as CSV (the contract's fields, in order, every row
including rejected ones with their reason), a blank line, then the balance check per
statement as CSV. Dates are ISO, amounts plain decimals exactly as parsed (``18.150`` keeps
its three places), booleans ``true``/``false``, missing values empty.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from pipelines.ingest.bank.common import format_decimal
from pipelines.ingest.bank.records import TRANSACTION_FIELDS, ParseResult

__all__ = ["BALANCE_CHECK_FIELDS", "render_parse_output"]

BALANCE_CHECK_FIELDS: tuple[str, ...] = (
    "statement_id",
    "account",
    "currency",
    "sequence_number",
    "opening_balance",
    "entries_total",
    "closing_balance",
    "balance_status",
    "balance_difference",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_parse_output(result: ParseResult) -> str:
    """The transactions CSV, a blank line, the balance-check CSV (``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRANSACTION_FIELDS)
    for tx in result.transactions:
        row = tx.as_row()
        writer.writerow([_cell(row[name]) for name in TRANSACTION_FIELDS])
    out.write("\n")
    writer.writerow(BALANCE_CHECK_FIELDS)
    for statement in result.statements:
        writer.writerow([_cell(getattr(statement, name)) for name in BALANCE_CHECK_FIELDS])
    return out.getvalue()
