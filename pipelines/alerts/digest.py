"""The business digest: once per published night, what collections people act on.

- New overdue crossings: ``marts.fct_overdue_alerts`` rows whose ``first_crossed_date`` falls
  after the last digest's night and on or before tonight (so a night that did not publish
  does not lose its crossings; the first digest covers tonight only).
- New credit-limit warnings: customers of ``marts.fct_credit_exposure`` whose
  ``warning_level`` (none, 80, 90, 100) is higher than the level last reported
  (``audit.credit_warning_levels``, updated here; a customer back under the limit is reported
  again when it rises again).

Either mart may be absent (not built in this deployment yet): its section is skipped. An
empty digest is not sent.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb

from pipelines.alerts.model import EVENT, INFO, Alert, bullet_list, money
from pipelines.alerts.triggers import Night
from pipelines.quality.checks import table_columns

FACTS_LISTED = 200


def _level_rank(level) -> int:
    text = str(level or "none").strip().lower()
    return int(text) if text.isdigit() else 0


def digest_window_start(con: duckdb.DuckDBPyConnection, night: Night) -> date:
    """The night after which crossings are new: the last published night digested before."""
    rows = con.execute("SELECT max(as_of_date) FROM audit.alert_runs WHERE published AND run_id <> ?",
                       [night.run_id]).fetchall()
    last = rows[0][0] if rows else None
    return last if last is not None else night.as_of - timedelta(days=1)


def overdue_crossings(con: duckdb.DuckDBPyConnection, night: Night) -> list[dict]:
    cols = table_columns(con, "marts", "fct_overdue_alerts")
    if not {"invoice_id", "threshold_days", "first_crossed_date"} <= set(cols):
        return []
    show = [c for c in ("invoice_id", "invoice_number", "customer_id", "threshold_days", "severity",
                        "first_crossed_date", "currency", "open_amount", "days_past_due", "disputed")
            if c in cols]
    order = "threshold_days DESC" + (", open_amount DESC" if "open_amount" in cols else "")
    rows = con.execute(f"""
        SELECT {', '.join(show)} FROM marts.fct_overdue_alerts
        WHERE first_crossed_date > ? AND first_crossed_date <= ?
        ORDER BY {order}, invoice_id
    """, [digest_window_start(con, night), night.as_of]).fetchall()
    return [dict(zip(show, r, strict=True)) for r in rows]


def new_credit_warnings(con: duckdb.DuckDBPyConnection, night: Night) -> list[dict]:
    """Customers whose warning level rose since it was last reported; updates the state."""
    cols = table_columns(con, "marts", "fct_credit_exposure")
    if not {"customer_id", "warning_level"} <= set(cols):
        return []
    show = [c for c in ("customer_id", "customer_name", "currency", "credit_limit", "exposure",
                        "utilization_pct", "warning_level") if c in cols]
    # only the customers whose level differs from the one last recorded (in SQL: there may be
    # millions of customers, and a few change a night)
    changed, before = [], {}
    for r in con.execute(f"""
        SELECT {', '.join(f'e.{c}' for c in show)}, b.warning_level
        FROM marts.fct_credit_exposure e
        LEFT JOIN audit.credit_warning_levels b USING (customer_id)
        WHERE CAST(e.warning_level AS VARCHAR) IS DISTINCT FROM coalesce(b.warning_level, 'none')
        ORDER BY e.customer_id""").fetchall():
        changed.append(dict(zip(show, r[:-1], strict=True)))
        before[r[0]] = r[-1]
    new = [r for r in changed if _level_rank(r["warning_level"]) > _level_rank(before[r["customer_id"]])]
    now_levels = [(r["customer_id"], str(r["warning_level"] or "none"), night.as_of, night.run_id)
                  for r in changed]
    if now_levels:
        night.write_rows("""
            INSERT INTO audit.credit_warning_levels
            SELECT customer_id, warning_level, as_of_date, run_id FROM _rows
            ON CONFLICT (customer_id) DO UPDATE SET warning_level = excluded.warning_level,
                as_of_date = excluded.as_of_date, run_id = excluded.run_id
        """, ["customer_id", "warning_level", "as_of_date", "run_id"], now_levels)
    new.sort(key=lambda r: (-_level_rank(r["warning_level"]), -(r.get("utilization_pct") or 0),
                            str(r["customer_id"])))
    return new


def _overdue_line(r: dict) -> str:
    text = (f"{r.get('invoice_number') or r['invoice_id']} ({r.get('customer_id') or '?'}): "
            f"{r['threshold_days']}+ days past due")
    if r.get("open_amount") is not None:
        text += f", open {money(r['open_amount'])} {r.get('currency') or ''}".rstrip()
    if r.get("disputed"):
        text += " (disputed)"
    return text


def _credit_line(r: dict) -> str:
    name = f"{r.get('customer_name') or ''} ({r['customer_id']})".strip()
    text = f"{name}: {r['warning_level']}% warning"
    if r.get("utilization_pct") is not None:
        text += f", utilisation {Decimal(r['utilization_pct']):.1f}%"
    if r.get("exposure") is not None and r.get("credit_limit") is not None:
        text += (f", exposure {money(r['exposure'])} of limit {money(r['credit_limit'])} "
                 f"{r.get('currency') or ''}").rstrip()
    return text


def business_digest(con: duckdb.DuckDBPyConnection, night: Night) -> list[Alert]:
    if not night.published:
        return []
    overdue = overdue_crossings(con, night)
    credit = new_credit_warnings(con, night)
    if not overdue and not credit:
        return []
    limit = night.settings.digest_max_items
    sections, parts = [], []
    if overdue:
        by_threshold: dict[int, list[dict]] = {}
        for r in overdue:
            by_threshold.setdefault(int(r["threshold_days"]), []).append(r)
        counts = ", ".join(f"{len(v)} at {k}+ days" for k, v in sorted(by_threshold.items(), reverse=True))
        parts.append(f"{len(overdue)} new overdue crossing(s)")
        sections.append(f"New overdue crossings ({counts}):\n"
                        + bullet_list([_overdue_line(r) for r in overdue], limit, "more invoices"))
    if credit:
        parts.append(f"{len(credit)} new credit-limit warning(s)")
        sections.append("New credit-limit warnings:\n"
                        + bullet_list([_credit_line(r) for r in credit], limit, "more customers"))
    return [Alert(
        kind="digest", severity=INFO, policy=EVENT,
        subject=f"AR digest for {night.as_of}: {', '.join(parts)}",
        body="\n\n".join(sections) + "\n\nThe full lists are in marts.fct_overdue_alerts and "
             "marts.fct_credit_exposure of the published warehouse.",
        facts={"as_of_date": night.as_of,
               "overdue_count": len(overdue), "credit_warning_count": len(credit),
               # the first FACTS_LISTED of each, for receivers that act on them
               "overdue": [[str(r["invoice_id"]), int(r["threshold_days"])]
                           for r in overdue[:FACTS_LISTED]],
               "credit": [[str(r["customer_id"]), str(r["warning_level"])]
                          for r in credit[:FACTS_LISTED]]})]
