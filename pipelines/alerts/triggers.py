"""What a person must hear about, evaluated at the end of each night from the build database.

Each trigger reads ``audit.*``, ``raw.bank_statements``, ``recon.*`` or (when the night
published) the marts, and returns alerts. A trigger whose table is absent (a mart not built
in this deployment yet) returns nothing. Triggers never block the night: the blocking
controls are asset checks (pipelines/quality); these tell a person.

    bad_input            files quarantined and rows rejected tonight              fact
    row_control          rows in ≠ loaded + rejected + duplicates (per file)       problem
    receipts_control     AR receipts ≠ applied + unapplied + excluded (per ccy)    problem
    open_exceptions      open reconciliation exceptions above the threshold        problem
    match_rate_drop      auto-match rate below the trailing average − the drop     problem
    statement_balances   a statement whose opening + entries ≠ closing             fact
    statement_sequence   a gap in a statement sequence (marts.fct_bank_statements) fact
    erp_tie_out          warehouse vs ERP open amounts differ (marts.fct_erp_tie_out) problem
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from pipelines.alerts.model import ERROR, FACT, PROBLEM, WARNING, Alert, bullet_list, money
from pipelines.ingest.erp import UNDECIDED_REASON
from pipelines.quality.checks import night_file_seqs, table_columns
from pipelines.quality.controls import TABLE_OF_KIND, file_counts
from pipelines.settings import AlertSettings
from pipelines.warehouse import registered

# The contract's auto-match window (CONTRACT §4: receipts effective in the 30 days to D).
AUTO_MATCH_WINDOW_DAYS = 30


@dataclass
class Night:
    run_id: str
    as_of: date
    published: bool
    settings: AlertSettings
    # State the triggers keep (statements with their rows), written in the same transaction
    # as the alerts: a crash between the two can neither lose an alert nor repeat one.
    writes: list[tuple[str, list]] = field(default_factory=list)

    def write(self, sql: str, params: list) -> None:
        """One statement with its parameters."""
        self.writes.append((sql, params))

    def write_rows(self, sql: str, columns: list[str], rows: list[tuple]) -> None:
        """A statement over many rows: ``sql`` reads them from the relation ``_rows`` (with the
        columns named), in one statement; row-by-row parameters cost a statement each."""
        self.writes.append((sql, _Rows(columns, rows)))

    def apply_writes(self, con: duckdb.DuckDBPyConnection) -> None:
        for sql, rows in self.writes:
            if isinstance(rows, _Rows):
                import pyarrow as pa

                with registered(con, _rows=pa.table(
                        {name: [r[i] for r in rows.rows] for i, name in enumerate(rows.columns)})):
                    con.execute(sql)
            else:
                con.execute(sql, rows)
        self.writes.clear()


@dataclass(frozen=True)
class _Rows:
    columns: list[str]
    rows: list[tuple]


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return table_columns(con, schema, table)


def _digest(values: list[str]) -> str:
    """A short, stable stand-in for a long list in the facts (changes when the list does)."""
    return hashlib.sha256("\n".join(values).encode("utf-8")).hexdigest()[:16]


def _by_currency(rows) -> dict[str, str]:
    return {ccy: str(Decimal(amount).quantize(Decimal("0.01"))) for ccy, amount in rows}


# --------------------------------------------------------------------------- input
def bad_input(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    """Quarantined files and rejected rows of the night. Worklist rows a person left
    undecided are set aside as rejects too, but they are not bad input: they are left out."""
    undecided = {"run": night.run_id, "undecided": ": " + UNDECIDED_REASON}
    files = con.execute("""
        WITH undecided AS (
            SELECT file_hash, count(*) AS n FROM audit.rejects
            WHERE run_id = $run AND ends_with(reason, $undecided) GROUP BY file_hash
        )
        SELECT relative_path, status, rows_in, rows_rejected - coalesce(u.n, 0) AS bad,
               coalesce(reason, ''), file_hash
        FROM audit.files LEFT JOIN undecided u USING (file_hash)
        WHERE run_id = $run AND (status = 'quarantined' OR rows_rejected - coalesce(u.n, 0) > 0)
        ORDER BY file_seq
    """, undecided).fetchall()
    if not files:
        return []
    quarantined = [f for f in files if f[1] == "quarantined"]
    rejected = [f for f in files if f[1] != "quarantined"]
    rows = sum(f[3] for f in rejected)
    parts = []
    if quarantined:
        parts.append(f"{len(quarantined)} file(s) quarantined")
    if rejected:
        parts.append(f"{rows:,} row(s) rejected in {len(rejected)} file(s)")
    lines = [f"{path}: quarantined — {reason}" for path, _, _, _, reason, _ in quarantined]
    lines += [f"{path}: {n:,} of {total:,} rows rejected" for path, _, total, n, _, _ in rejected]
    sample = con.execute("""
        SELECT reason FROM audit.rejects WHERE run_id = $run AND NOT ends_with(reason, $undecided)
        ORDER BY source_file, line_number LIMIT 5
    """, undecided).fetchall()
    body = ("Nothing was dropped: quarantined files are under the warehouse's quarantine/ folder "
            "with their reason; rejected rows are in audit.rejects.\n"
            + bullet_list(lines, night.settings.digest_max_items, "more files"))
    if sample:
        body += "\nFirst rejected rows:\n" + bullet_list([r[0] for r in sample], 5)
    return [Alert(kind="bad_input", severity=WARNING,
                  subject=f"Bad input on the night of {night.as_of}: {', '.join(parts)}",
                  body=body, policy=FACT,
                  facts={"files": [{"file_hash": f[5], "status": f[1], "rows_rejected": f[3]}
                                   for f in files]})]


# --------------------------------------------------------------------------- controls
def row_control(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    seqs = night_file_seqs(con)
    problems = []
    for table in sorted(set(TABLE_OF_KIND.values())):
        for count in file_counts(con, table, seqs):
            problems += count.problems(table)
    if not problems:
        return []
    return [Alert(kind="money_control", severity=ERROR,
                  subject=f"Row control broken: {len(problems)} file(s) do not account for every row",
                  body="Every night accounts for every row: rows in = loaded + rejected "
                       "(+ duplicates), and what is loaded is stored.\n"
                       + bullet_list(problems, night.settings.digest_max_items),
                  facts={"control": "rows", "problems": problems}, policy=PROBLEM)]


def receipts_control(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    cols = _exists(con, "marts", "fct_bank_receipts")
    needed = {"amount", "applied_amount", "unapplied_amount", "currency"}
    if not needed <= set(cols):
        return []
    excluded = "excluded_amount" if "excluded_amount" in cols else "0"
    rows = con.execute(f"""
        SELECT currency, count(*) FILTER (WHERE amount <> applied_amount + unapplied_amount + {excluded}),
               sum(amount - applied_amount - unapplied_amount - {excluded})
        FROM marts.fct_bank_receipts GROUP BY ALL
        HAVING count(*) FILTER (WHERE amount <> applied_amount + unapplied_amount + {excluded}) > 0
        ORDER BY currency
    """).fetchall()
    if not rows:
        return []
    lines = [f"{ccy}: {n:,} receipt(s) off, receipts − (applied + unapplied + excluded) = {money(d)}"
             for ccy, n, d in rows]
    return [Alert(kind="money_control", severity=ERROR,
                  subject="Money control broken: AR receipts ≠ applied + unapplied "
                          f"({', '.join(r[0] for r in rows)})",
                  body="AR receipts must equal applied + unapplied (on account and exceptions), "
                       "to the cent, every night (marts.fct_bank_receipts).\n" + bullet_list(lines, 20),
                  facts={"control": "receipts", "off": {r[0]: [r[1], str(r[2])] for r in rows}},
                  policy=PROBLEM)]


# --------------------------------------------------------------------------- reconciliation
def _outcomes_tonight(con: duckdb.DuckDBPyConnection, night: Night) -> bool:
    if not _exists(con, "recon", "receipt_outcomes"):
        return False
    return bool(con.execute("SELECT count(*) FROM recon.receipt_outcomes WHERE as_of_date = ?",
                            [night.as_of]).fetchall()[0][0])


def open_exceptions(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    if not _outcomes_tonight(con, night):
        return []
    exceptions = """
        FROM recon.receipt_outcomes o JOIN raw.bank_transactions t USING (transaction_id)
        WHERE o.as_of_date = $as_of AND o.outcome = 'exception'"""
    # counted and summed in SQL, in one pass; only the oldest rows the alert lists are fetched
    groups = con.execute(f"""
        SELECT grouping(t.currency) = 0, t.currency, coalesce(o.reason_code, 'UNKNOWN'), count(*),
               sum(t.amount)
        {exceptions}
        GROUP BY GROUPING SETS ((t.currency), (coalesce(o.reason_code, 'UNKNOWN')), ())
        ORDER BY ALL""", {"as_of": night.as_of}).fetchall()
    count = next((n for by_currency, _, reason, n, _ in groups if not by_currency and reason is None), 0)
    threshold = night.settings.exceptions_threshold
    if count <= threshold:
        return []
    totals = [(ccy, total) for by_currency, ccy, _, _, total in groups if by_currency]
    reasons = [(reason, n) for by_currency, _, reason, n, _ in groups if not by_currency and reason]
    shown = night.settings.digest_max_items
    rows = con.execute(f"""
        SELECT t.bank_reference, t.effective_date, t.amount, t.currency, o.reason_code, o.candidates,
               t.counterparty_name
        {exceptions}
        ORDER BY t.effective_date, o.transaction_id LIMIT $shown
    """, {"as_of": night.as_of, "shown": shown}).fetchall()
    amounts = ", ".join(f"{ccy} {money(v)}" for ccy, v in totals)
    oldest = [f"{r[1]} {r[3]} {money(r[2])} from {r[6] or 'unknown payer'} "
              f"(ref {r[0] or '-'}): {r[4] or 'UNKNOWN'}"
              + (f", candidates {r[5]}" if r[5] else "") for r in rows]
    body = (f"{count:,} receipts wait for a person (threshold {threshold}): {amounts}.\n"
            "By reason: " + ", ".join(f"{k} {v}" for k, v in reasons) + "\n"
            "Oldest first (`arw exceptions export` writes the worklist):\n"
            + bullet_list(oldest, shown, "more exceptions", total=count))
    return [Alert(kind="open_exceptions", severity=WARNING,
                  subject=f"{count:,} open reconciliation exceptions (threshold {threshold})",
                  body=body, policy=PROBLEM,
                  facts={"count": count, "amount": _by_currency(totals)})]


def _match_rates(con: duckdb.DuckDBPyConnection, as_of: date) -> list[tuple]:
    return con.execute(f"""
        WITH receipts AS (
            SELECT t.transaction_id, t.currency, t.amount
            FROM raw.bank_transactions t
            JOIN recon.receipt_outcomes o ON o.transaction_id = t.transaction_id AND o.as_of_date = $d
            WHERE t.amount > 0 AND t.effective_date > $d - {AUTO_MATCH_WINDOW_DAYS}
              AND t.effective_date <= $d AND o.outcome NOT IN ('not_ar', 'returned')
        ),
        applied AS (
            SELECT transaction_id, sum(amount) AS applied FROM recon.allocation_ledger
            WHERE kind = 'allocation' AND decided_by = 'matcher' AND effective_date <= $d
              AND transaction_id IN (SELECT transaction_id FROM receipts)
            GROUP BY ALL
        )
        SELECT currency, CAST(sum(amount) AS DECIMAL(18,2)),
               CAST(sum(coalesce(applied, 0)) AS DECIMAL(18,2))
        FROM receipts LEFT JOIN applied USING (transaction_id)
        GROUP BY ALL ORDER BY currency
    """, {"d": as_of}).fetchall()


def match_rate_drop(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    """Tonight's auto-match rate per currency against the average of earlier nights."""
    if not _outcomes_tonight(con, night) or not _exists(con, "recon", "allocation_ledger"):
        return []
    s = night.settings
    rates = {}
    now = datetime.now()
    rows = []
    for currency, receipts, applied in _match_rates(con, night.as_of):
        if not receipts:
            continue
        rate = (applied / receipts).quantize(Decimal("0.0001"))
        rates[currency] = rate
        rows.append([night.as_of, currency, night.run_id, now, receipts, applied, rate])
    night.write("DELETE FROM audit.match_rates WHERE as_of_date = ?", [night.as_of])
    if rows:
        night.write_rows("INSERT INTO audit.match_rates SELECT * FROM _rows",
                         ["as_of_date", "currency", "run_id", "evaluated_at", "ar_receipts_amount",
                          "matcher_applied_amount", "auto_match_rate"], rows)
    alerts = []
    for currency, rate in sorted(rates.items()):
        earlier = [r[0] for r in con.execute("""
            SELECT auto_match_rate FROM audit.match_rates
            WHERE currency = ? AND as_of_date < ? AND auto_match_rate IS NOT NULL
            ORDER BY as_of_date DESC LIMIT ?
        """, [currency, night.as_of, s.match_rate_trailing_nights]).fetchall()]
        if len(earlier) < max(1, s.match_rate_min_nights):
            continue
        average = (sum(earlier, Decimal(0)) / len(earlier)).quantize(Decimal("0.0001"))
        if rate >= average - s.match_rate_drop:
            continue
        alerts.append(Alert(
            kind="match_rate_drop", severity=WARNING,
            subject=f"Auto-match rate {currency} dropped to {rate * 100:.1f}% "
                    f"(average of the {len(earlier)} earlier nights {average * 100:.1f}%)",
            body=(f"Share of the AR receipt amount (receipts effective in the {AUTO_MATCH_WINDOW_DAYS} "
                  f"days to {night.as_of}) that the matcher applied: {rate * 100:.1f}%, against "
                  f"{average * 100:.1f}% on average over the {len(earlier)} earlier nights "
                  f"(alert below the average − {s.match_rate_drop * 100:.0f} points). Look at the "
                  "new exceptions: a customer changed how they quote invoices, a new bank file "
                  "layout, a reference field lost in parsing."),
            facts={"currency": currency, "rate": str(rate), "average": str(average)},
            policy=PROBLEM))
    return alerts


# --------------------------------------------------------------------------- statements
def statement_balances(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    if not _exists(con, "raw", "bank_statements"):
        return []
    rows = con.execute("""
        SELECT _source_file, coalesce(statement_id, ''), coalesce(account, ''), coalesce(currency, ''),
               coalesce(sequence_number, ''), opening_balance, entries_total, closing_balance,
               balance_difference, from_date, to_date, _file_hash
        FROM raw.bank_statements WHERE balance_status = 'mismatch'
        ORDER BY _file_seq, statement_id
    """).fetchall()
    by_file: dict[str, list[tuple]] = {}
    for r in rows:
        by_file.setdefault(r[0], []).append(r)
    alerts = []
    for source, stmts in by_file.items():
        lines = [f"statement {st or '(no id)'}{f' no. {seq}' if seq else ''} of account {acct or '?'}"
                 + (f" ({fr or '?'} – {to or '?'})" if fr or to else "")
                 + f": opening {money(o)} + entries {money(e)} = {money((o or 0) + (e or 0))}, "
                 f"closing {money(c)} {ccy}, difference {money(d)}"
                 for _, st, acct, ccy, seq, o, e, c, d, fr, to, _ in stmts]
        first = stmts[0]
        subject = (f"Bank statement does not add up: {source}"
                   + (f" (statement {first[1]})" if first[1] and len(stmts) == 1 else
                      f" ({len(stmts)} statements)" if len(stmts) > 1 else ""))
        alerts.append(Alert(
            kind="statement_balance", severity=WARNING, subject=subject, policy=FACT,
            body=("The bank's opening balance plus the entries does not equal its closing balance. "
                  "The entries were loaded (the night is not stopped); ask the bank for a "
                  "corrected statement or check for a missing entry.\n"
                  + bullet_list(lines, night.settings.digest_max_items, "more statements")),
            facts={"file_hash": first[11], "statements": [[r[1], r[2], r[4], str(r[8])] for r in stmts]}))
    return alerts


def _gap_line(item: dict) -> str:
    text = f"statement {item.get('statement_id') or '(no id)'}"
    if item.get("sequence_number"):
        text += f" no. {item['sequence_number']}"
    if item.get("source_file"):
        text += f" ({item['source_file']})"
    if item.get("missing_sequence_numbers"):
        text += f": missing before it: {item['missing_sequence_numbers']}"
    elif item.get("previous_statement_number") is not None:
        text += f": the previous one taken in is no. {item['previous_statement_number']}"
    return text


def statement_sequence(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    """Gaps in statement sequences, from marts.fct_bank_statements when it exists."""
    if not night.published:
        return []
    cols = _exists(con, "marts", "fct_bank_statements")
    if "sequence_status" not in cols:
        return []
    shown = [c for c in ("account", "currency", "statement_id", "sequence_number", "source_file",
                         "previous_statement_number", "missing_sequence_numbers", "sequence_status")
             if c in cols]
    order = ", ".join(c for c in ("account", "file_seq", "statement_id") if c in cols) or "1"
    rows = con.execute(f"""
        SELECT {', '.join(f'"{c}"' for c in shown)} FROM marts.fct_bank_statements
        WHERE lower(sequence_status) LIKE '%gap%' OR lower(sequence_status) LIKE '%missing%'
        ORDER BY {order}
    """).fetchall()
    by_account: dict[str, list[dict]] = {}
    for r in rows:
        row = dict(zip(shown, r, strict=True))
        by_account.setdefault(str(row.get("account") or "?"), []).append(row)
    alerts = []
    for account, items in sorted(by_account.items()):
        alerts.append(Alert(
            kind="statement_sequence", severity=WARNING, policy=FACT,
            subject=f"Bank statement sequence gap on account {account}: {len(items)} statement(s)",
            body=("A statement number was skipped: a statement may be missing from the inbox "
                  "(its transactions would be missing too). Ask the bank for it.\n"
                  + bullet_list([_gap_line(i) for i in items], night.settings.digest_max_items, "more")),
            facts={"account": account,
                   "gaps": [[str(i.get("statement_id")), str(i.get("sequence_number")),
                             str(i.get("missing_sequence_numbers"))] for i in items]}))
    return alerts


# --------------------------------------------------------------------------- ERP tie-out
def erp_tie_out(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    if not night.published:
        return []
    cols = _exists(con, "marts", "fct_erp_tie_out")
    if not {"invoice_id", "difference"} <= set(cols):
        return []
    show = [c for c in ("invoice_id", "invoice_number", "customer_id", "currency", "warehouse_open",
                        "erp_open", "difference", "reason") if c in cols]
    where = "abs(difference) > ?"
    params: list = [night.settings.tie_out_tolerance]
    if "as_of_date" in cols:
        where += " AND as_of_date = ?"
        params.append(night.as_of)
    rows = con.execute(f"""
        SELECT {', '.join(show)} FROM marts.fct_erp_tie_out WHERE {where}
        ORDER BY abs(difference) DESC, invoice_id
    """, params).fetchall()
    if not rows:
        return []
    items = [dict(zip(show, r, strict=True)) for r in rows]
    totals: dict[str, Decimal] = {}
    for item in items:
        ccy = item.get("currency") or "?"
        totals[ccy] = totals.get(ccy, Decimal(0)) + (item["difference"] or 0)
    lines = [f"invoice {i.get('invoice_number') or i['invoice_id']} ({i.get('customer_id') or '?'}): "
             f"warehouse {money(i.get('warehouse_open'))}, ERP {money(i.get('erp_open'))}, "
             f"difference {money(i['difference'])} {i.get('currency') or ''}"
             + (f" — {i['reason']}" if i.get("reason") else "") for i in items]
    return [Alert(
        kind="erp_tie_out", severity=WARNING, policy=PROBLEM,
        subject=f"Warehouse and ERP disagree on {len(items):,} open invoice(s) at {night.as_of}",
        body=("Open amounts per invoice, warehouse against the ERP's own open items "
              "(marts.fct_erp_tie_out). Net difference: "
              + ", ".join(f"{c} {money(v)}" for c, v in sorted(totals.items())) + "\n"
              + bullet_list(lines, night.settings.digest_max_items, "more invoices")),
        facts={"count": len(items), "difference": _by_currency(totals.items()),
               "invoices": _digest(sorted(f"{i['invoice_id']}={i['difference']}" for i in items))})]


TRIGGERS = (bad_input, row_control, receipts_control, open_exceptions, match_rate_drop,
            statement_balances, statement_sequence, erp_tie_out)
