"""The short, readable summary `arw nightly` prints (CONTRACT §5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from pipelines.alerts.outbox import summary_line as alerts_summary_line
from pipelines.settings import Settings
from pipelines.warehouse import connect, open_read_only, scalar


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):,.2f}"


def _files_section(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    rows = con.execute("""
        SELECT split_part(kind, ':', 1) AS source, count(*) FILTER (WHERE status = 'loaded'),
               count(*) FILTER (WHERE status = 'quarantined'), coalesce(sum(rows_in), 0),
               coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),
               coalesce(sum(rows_duplicate), 0)
        FROM audit.files WHERE run_id = ? GROUP BY ALL ORDER BY 1
    """, [run_id]).fetchall()
    skipped = scalar(con, "SELECT count(*) FROM audit.file_sightings WHERE run_id = ?", [run_id])
    lines = ["Files"]
    if not rows:
        lines.append("  no new files")
    for source, loaded, quarantined, rows_in, ok, rejected, dup in rows:
        extra = f", {dup:,} already known" if dup else ""
        lines.append(f"  {source:<7} {loaded} loaded, {quarantined} quarantined; rows in {rows_in:,}"
                     f" = loaded {ok:,} + rejected {rejected:,}{extra}")
    if skipped:
        lines.append(f"  {skipped} file(s) already taken in before (same content), skipped")
    return lines


def _matcher_section(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """How far back tonight's matcher walked (see pipelines/reconcile/night.py)."""
    row = con.execute("SELECT walk, walked FROM recon.matcher_checkpoint WHERE run_id = ?", [run_id]).fetchone()
    return [f"Matcher: {row[0]} ({row[1]:,} payments decided)"] if row else []


def _published_sections(pub: duckdb.DuckDBPyConnection) -> list[str]:
    lines = ["Receipts (money in, to the as-of date)"]
    receipts = pub.execute("""
        SELECT currency, count(*), sum(amount), sum(applied_amount),
               count(*) FILTER (WHERE status = 'matched')
        FROM marts.fct_bank_receipts GROUP BY ALL ORDER BY currency
    """).fetchall()
    if not receipts:
        lines.append("  none")
    for currency, n, amount, applied, matched in receipts:
        share = (applied / amount * 100) if amount else Decimal(0)
        lines.append(f"  {currency} {n:,} receipts, {_money(amount)}; applied {_money(applied)} "
                     f"({share:.1f}%); fully matched {matched:,}")
    lines.append("Open AR by bucket")
    aging = pub.execute("""
        SELECT currency, aging_bucket, sum(open_amount), count(*)
        FROM marts.fct_ar_aging GROUP BY ALL
    """).fetchall()
    by_currency: dict[str, list] = {}
    for currency, bucket, amount, n in aging:
        by_currency.setdefault(currency, []).append((bucket, amount, n))
    if not by_currency:
        lines.append("  no open invoices")
    for currency in sorted(by_currency):
        items = sorted(by_currency[currency], key=lambda x: _bucket_rank(x[0]))
        total = sum((a for _, a, _ in items), Decimal(0))
        count = sum(n for _, _, n in items)
        lines.append(f"  {currency} total {_money(total)} in {count:,} invoices")
        lines.append("    " + " | ".join(f"{b} {_money(a)}" for b, a, _ in items))
    return lines


def _bucket_rank(label: str) -> int:
    if label == "current":
        return -1
    digits = label.split("-")[0].replace("over", "").strip()
    return int(digits) if digits.isdigit() else 10**6


def render_summary(settings: Settings, run_id: str, as_of: date, published: bool, reason: str,
                   seconds: float) -> str:
    head = f"AR Warehouse night of {as_of} ({seconds:.1f} s): "
    head += "PUBLISHED" if published else "NOT PUBLISHED"
    lines = [head]
    if not published:
        lines.append(f"Reason: {reason}")
        lines.append(f"The published warehouse was left as it was: {settings.published_db}")
    with connect(settings, read_only=True) as con:
        lines += _files_section(con, run_id)
        lines += _matcher_section(con, run_id)
        alerts = alerts_summary_line(con, run_id)
    if published:
        pub = open_read_only(settings.published_db, settings)
        try:
            lines += _published_sections(pub)
        finally:
            pub.close()
    lines.append(alerts)
    lines.append(f"Warehouse: {settings.published_db} (open read-only; `arw sql \"...\"`)")
    report = settings.report_html  # tonight's, not one left by an earlier night
    if published and report.is_file() and report.stat().st_mtime >= settings.published_db.stat().st_mtime:
        lines.append(f"Report: {report} (open in a browser)")
    return "\n".join(lines)
