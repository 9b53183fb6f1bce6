"""The nightly HTML report: one self-contained file a finance team can open anywhere.

``write_report`` reads the published warehouse (read-only), renders every section and
replaces the report file atomically. Amounts are shown exactly (``Decimal``, thousands
separators, two decimals) in their own currency; every text from the data is escaped.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from html import escape
from pathlib import Path

from pipelines.report import charts
from pipelines.report.charts import Bar, Column, Line, Mark
from pipelines.report.data import (
    TREND_MONTHS,
    TREND_NIGHTS,
    Collection,
    ReportData,
    load,
)
from pipelines.report.page import BUCKET_COLOURS, CURRENCY_COLOURS, page
from pipelines.warehouse import open_read_only

# Attainment bars share one scale (0-200 %), so the target line sits in the same place in
# every chart; a bar beyond 200 % is drawn full and its text gives the real percentage.
ATTAINMENT_SCALE = 200.0

SECTIONS = (
    ("headline", "Open receivables"),
    ("aging", "Aging by bucket"),
    ("aging-trend", "Aging trend"),
    ("collections", "Collections against target"),
    ("top-overdue", "Top overdue customers"),
    ("credit-warnings", "Credit-limit warnings"),
    ("reconciliation", "Reconciliation"),
)


# --------------------------------------------------------------------------- formatting
def money(value: Decimal | None) -> str:
    """Exact: thousands separators and two decimals, never through a float."""
    return "–" if value is None else f"{value:,.2f}"


def raw(value: Decimal | None) -> str:
    """A data attribute's value: the plain decimal text ('' for none)."""
    return "" if value is None else f"{value:f}"


def pct(value: Decimal | None) -> str:
    """A percentage already × 100 (attainment, utilization, CEI)."""
    return "–" if value is None else f"{value:,.1f}\u00a0%"


def pct_of(fraction: Decimal | None) -> str:
    """A fraction shown as a percentage (auto-match rate 0.8212 → 82.1 %)."""
    return "–" if fraction is None else f"{fraction * 100:,.1f}\u00a0%"


def long_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def e(text: object) -> str:
    return escape(str(text), quote=True)


def empty(message: str) -> str:
    return f'<p class="empty">Nothing to show: {e(message)}</p>'


def table(headers: Sequence[tuple[str, str]], rows: Iterable[tuple[dict[str, str], list[str]]],
          css: str = "") -> str:
    """``headers``: (label, kind: "" text, "num" right-aligned, "date" kept on one line);
    ``rows``: (data attributes, cells already escaped)."""
    head = "".join(f'<th{f" class={kind}" if kind else ""}>{e(h)}</th>' for h, kind in headers)
    body = []
    for attrs, cells in rows:
        tds = "".join(f'<td{f" class={kind}" if kind else ""}>{cell}</td>'
                      for (_, kind), cell in zip(headers, cells, strict=True))
        body.append(f"<tr{charts.attrs(attrs)}>{tds}</tr>")
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(section_id: str, title: str, lede: str, body: str, source: str) -> str:
    return (f'<section id="{e(section_id)}"><h2>{e(title)}</h2><p class="lede">{e(lede)}</p>'
            f'{body}<p class="source">Source: {e(source)}</p></section>')


def legend(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><span class="swatch {e(css)}"></span>{e(name)}</span>' for name, css in items) + "</div>"


def _currency_css(currencies: Sequence[str]) -> dict[str, str]:
    return {c: f"c{i % len(CURRENCY_COLOURS)}" for i, c in enumerate(sorted(currencies))}


# --------------------------------------------------------------------------- sections
def _headline(data: ReportData) -> str:
    d = data.as_of.isoformat()
    if not data.headline:
        body = empty(f"no open invoices on {d}.")
    else:
        cards = []
        for h in data.headline:
            current = h.total - h.overdue
            share = (h.overdue / h.total * 100) if h.total else None
            split = charts.split_bar([
                Mark(float(current), {"data-part": "current", "data-amount": raw(current)},
                     f"Not yet due: {h.currency} {money(current)}", "current"),
                Mark(float(h.overdue), {"data-part": "overdue", "data-amount": raw(h.overdue)},
                     f"Overdue: {h.currency} {money(h.overdue)}", "overdue"),
            ], label=f"{h.currency}: not yet due against overdue")
            kpis = []
            if h.dso is not None:
                kpis.append(f"DSO {h.dso:,.1f} days")
            if h.cei is not None:
                kpis.append(f"CEI {pct(h.cei)}")
            cards.append(
                f'<div class="card" data-currency="{e(h.currency)}" data-total="{raw(h.total)}" '
                f'data-overdue="{raw(h.overdue)}" data-invoices="{h.invoices}">'
                f'<div class="card-title">Open AR in {e(h.currency)}</div>'
                f'<div class="big" data-field="total">{e(h.currency)} {money(h.total)}</div>'
                f'<div class="sub">{h.invoices:,} open invoices</div>{split}'
                f'<div class="sub"><span class="overdue" data-field="overdue">Overdue '
                f'{e(h.currency)} {money(h.overdue)}</span> ({pct(share)}) in '
                f'{h.overdue_invoices:,} invoices</div>'
                + (f'<div class="sub">{e(" · ".join(kpis))}</div>' if kpis else "")
                + "</div>")
        body = '<div class="cards">' + "".join(cards) + "</div>" + _reporting_note(data)
    return section("headline", f"Open receivables on {d}",
                   "Open amount of every invoice not yet paid in full, per invoicing currency; "
                   "overdue = past its due date. DSO over the last 90 days.", body,
                   "marts.fct_ar_aging (amounts), marts.fct_ar_kpis (DSO, CEI, reporting rates)")


def _reporting_note(data: ReportData) -> str:
    converted = [r for r in data.reporting if r.total is not None]
    missing = [r.currency for r in data.reporting if r.total is None]
    if len(data.reporting) < 2 or not converted:
        return ""
    target = converted[0].amount_currency
    total = sum((r.total for r in converted), Decimal(0))
    overdue = sum((r.overdue or Decimal(0) for r in converted), Decimal(0))
    text = (f"All currencies together in {target} at the night's rates: open {target} "
            f"{money(total)}, overdue {target} {money(overdue)}.")
    if missing:
        text += f" Not included (no exchange rate on {data.as_of}): {', '.join(missing)}."
    return (f'<p class="note" id="reporting-total" data-currency="{e(target)}" '
            f'data-total="{raw(total)}" data-overdue="{raw(overdue)}">{e(text)}</p>')


def _bucket_order(data: ReportData, extra: Iterable[str] = ()) -> list[str]:
    def rank(label: str) -> tuple[int, int, str]:
        if label in data.bucket_ranks:
            return (0, data.bucket_ranks[label], label)
        if label == "current":
            return (1, -1, label)
        digits = "".join(ch for ch in label.split("-")[-1] if ch.isdigit())
        bonus = 1 if label.startswith("over") else 0
        return (1, int(digits or 10**9) * 2 + bonus, label)

    return sorted(set(data.bucket_ranks) | set(extra), key=rank)


def _bucket_css(order: Sequence[str]) -> dict[str, str]:
    last = len(BUCKET_COLOURS) - 1
    return {b: f"b{min(i, last)}" for i, b in enumerate(order)}


def _aging(data: ReportData) -> str:
    if not data.aging:
        body = empty(f"no open invoices on {data.as_of}.")
    else:
        order = _bucket_order(data)
        css = _bucket_css(order)
        by_currency: dict[str, dict] = defaultdict(dict)
        for b in data.aging:
            by_currency[b.currency][b.bucket] = b
        parts = []
        for h in data.headline:
            buckets = by_currency.get(h.currency, {})
            bars = []
            for label in order:
                item = buckets.get(label)
                amount = item.amount if item else Decimal("0.00")
                n = item.invoices if item else 0
                share = (amount / h.total * 100) if h.total else None
                bars.append(Bar(label, Mark(
                    float(amount),
                    {"data-currency": h.currency, "data-bucket": label, "data-amount": raw(amount),
                     "data-invoices": str(n)},
                    f"{label}: {h.currency} {money(amount)} in {n:,} invoices", css[label]),
                    f"{money(amount)} · {pct(share)} · {n:,} inv."))
            parts.append(f'<h3>{e(h.currency)} · total {money(h.total)} in {h.invoices:,} invoices</h3>'
                         + f'<div class="chart-box" id="aging-{e(h.currency)}">'
                         + charts.hbar_chart(bars, label=f"Open AR in {h.currency} by aging bucket",
                                             label_width=90)
                         + "</div>")
        body = "".join(parts)
    return section("aging", "Aging by bucket",
                   f"Open amount by days past due on {data.as_of} (current = not yet due), "
                   "with its share of the currency's open AR and the number of invoices.",
                   body, "marts.fct_ar_aging")


def _aging_trend(data: ReportData) -> str:
    if not data.history:
        body = empty(f"no aging history up to {data.as_of}.")
    else:
        order = _bucket_order(data, (h.bucket for h in data.history))
        css = _bucket_css(order)
        nights = sorted({h.as_of_date for h in data.history})
        amounts: dict[str, dict[date, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
        for h in data.history:
            amounts[h.currency][h.as_of_date][h.bucket] = h.amount
        parts = [legend([(b, css[b]) for b in order])]
        if len(nights) == 1:
            parts.append(f'<p class="note">Only one night ({nights[0]}) is in the history so far; '
                         "the chart gains a column every night.</p>")
        for currency in sorted(amounts):
            columns, totals = [], {}
            for night in nights:
                per_bucket = amounts[currency].get(night, {})
                total = sum(per_bucket.values(), Decimal(0))
                totals[night] = (total, sum((a for b, a in per_bucket.items() if b != "current"),
                                            Decimal(0)))
                segments = [Mark(float(per_bucket[b]),
                                 {"data-date": night.isoformat(), "data-currency": currency,
                                  "data-bucket": b, "data-amount": raw(per_bucket[b])},
                                 f"{night} · {b}: {currency} {money(per_bucket[b])}", css[b])
                            for b in order if b in per_bucket]
                columns.append(Column(night.isoformat(), segments, money(total)))
            top = max((t for t, _ in totals.values()), default=Decimal(0))
            chart = charts.stacked_columns(columns, label=f"Open AR in {currency} per night by bucket",
                                           ticks=charts.nice_ticks(top))
            latest = nights[-1]
            line = f"{latest}: open {currency} {money(totals[latest][0])}, overdue {money(totals[latest][1])}"
            if len(nights) > 1:
                before = nights[-2]
                line += (f"; since {before}: open {_signed(totals[latest][0] - totals[before][0])}, "
                         f"overdue {_signed(totals[latest][1] - totals[before][1])}")
            parts.append(f"<h3>{e(currency)}</h3>"
                         f'<div class="chart-box" id="aging-trend-{e(currency)}">{chart}</div>'
                         f'<p class="note">{e(line)}.</p>')
        body = "".join(parts)
    return section("aging-trend", "Aging trend",
                   f"Open AR by aging bucket at each published night (the last {TREND_NIGHTS} "
                   f"nights up to {data.as_of}).", body, "marts.fct_ar_aging_history")


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + money(value)


def _attainment_css(pct_value: Decimal | None) -> str:
    if pct_value is None:
        return "att-none"
    return "att-ok" if pct_value >= 100 else "att-mid" if pct_value >= 80 else "att-low"


def _collections(data: ReportData) -> str:
    parts = []
    for i, period in enumerate(data.collection_periods):
        year, month = (int(x) for x in period.split("-"))
        name = f"{date(year, month, 1):%B %Y}"
        title = f"{name}, to {data.as_of}" if i == 0 else name
        rows = [c for c in data.collections if c.period == period]
        parts.append(f"<h3>{e(title)}</h3>")
        if not rows:
            parts.append(empty(f"no collections or targets for {name}."))
            continue
        for currency in sorted({c.currency for c in rows}):
            parts.append(_collection_chart(period, currency,
                                           [c for c in rows if c.currency == currency]))
    body = "".join(parts) or empty("no collections or targets.")
    return section("collections", "Collections against target",
                   "Cash applied in the month (by value date, net of reversals) per salesperson, "
                   "against the month's target; the dashed line is 100 % of target.", body,
                   "marts.fct_collections_vs_target, marts.dim_salespeople")


def _collection_chart(period: str, currency: str, rows: Sequence[Collection]) -> str:
    bars = []
    for c in rows:
        if c.target is None or c.attainment_pct is None:
            text = f"{money(c.collected)} · no target"
        else:
            text = f"{money(c.collected)} of {money(c.target)} · {pct(c.attainment_pct)}"
        bars.append(Bar(c.salesperson, Mark(
            float(c.attainment_pct or 0),
            {"data-period": period, "data-currency": currency,
             "data-salesperson": c.salesperson_id or "", "data-amount": raw(c.collected),
             "data-target": raw(c.target), "data-attainment": raw(c.attainment_pct)},
            f"{c.salesperson}: collected {currency} {text}", _attainment_css(c.attainment_pct)),
            text))
    chart = charts.hbar_chart(bars, label=f"Collections against target in {currency}, {period}",
                              scale_max=ATTAINMENT_SCALE, reference=(100.0, "target"))
    return (f'<h4>{e(currency)}</h4><div class="chart-box" id="collections-{e(period)}-{e(currency)}">'
            f"{chart}</div>")


def _top_overdue(data: ReportData) -> str:
    if not data.top_overdue:
        body = empty(f"no invoice is overdue on {data.as_of}.")
    else:
        reporting = next((r.amount_currency for r in data.reporting if r.total is not None), "")
        headers = [("#", "num"), ("Customer", ""), ("Currency", ""), ("Overdue", "num"),
                   ("of which > 90 days", "num"), ("Oldest (days past due)", "num"),
                   ("Overdue invoices", "num"),
                   (f"Overdue in {reporting}" if reporting else "Reporting currency", "num")]
        rows = []
        for i, c in enumerate(data.top_overdue, 1):
            rows.append(({"data-customer-id": c.customer_id, "data-currency": c.currency,
                          "data-amount": raw(c.overdue), "data-rank": str(i)},
                         [str(i), f"{e(c.name)} <span class=\"note\">({e(c.customer_id)})</span>",
                          e(c.currency), money(c.overdue), money(c.over_90), f"{c.oldest_days:,}",
                          f"{c.invoices:,}", money(c.reporting) if c.reporting is not None
                          else "no rate"]))
        body = table(headers, rows)
        if data.overdue_without_rate:
            body += (f'<p class="note">Ranked after the others: overdue amounts in '
                     f"{e(', '.join(data.overdue_without_rate))} (no exchange rate on "
                     f"{data.as_of}).</p>")
    return section("top-overdue", "Top overdue customers",
                   f"The {len(data.top_overdue) or 10} customers with the largest amount past due "
                   "on the night, compared in the reporting currency; amounts in the invoices' "
                   "currency.", body, "marts.fct_ar_aging, marts.dim_customers, marts.fct_ar_kpis")


def _credit(data: ReportData) -> str:
    rows = data.credit_warnings
    if not rows:
        body = empty(f"no customer is at or over a warning level of the credit limit on {data.as_of}.")
    else:
        levels = [lv for lv, _ in data.credit_levels]
        total = sum(n for _, n in data.credit_levels)
        counts = (f"{total:,} customer(s) at a warning level: "
                  + ", ".join(f"{n:,} at or over {lv}\u00a0%" for lv, n in data.credit_levels)
                  + " of their credit limit")
        if total > len(rows):
            counts += f"; the {len(rows)} highest are listed (all: marts.fct_credit_exposure)"
        headers = [("Customer", ""), ("Currency", ""), ("Credit limit", "num"),
                   ("Open AR", "num"), ("Open orders", "num"), ("Exposure", "num"),
                   ("Utilization", "num"), ("Level", "")]
        out = []
        for r in rows:
            badge = f"lvl-{min(levels.index(r.level), 2)}"
            width = min(float(r.utilization_pct or 100), 100.0)
            meter = f'<span class="meter"><span style="width:{width:.0f}%"></span></span>'
            utilization = pct(r.utilization_pct) if r.utilization_pct is not None else "no limit"
            out.append(({"data-customer-id": r.customer_id, "data-level": r.level,
                         "data-utilization": raw(r.utilization_pct), "data-amount": raw(r.exposure)},
                        [f"{e(r.name)} <span class=\"note\">({e(r.customer_id)})</span>",
                         e(r.currency), money(r.credit_limit), money(r.open_ar),
                         money(r.open_orders), money(r.exposure), f"{e(utilization)}{meter}",
                         f'<span class="badge {badge}">≥ {e(r.level)}\u00a0%</span>']))
        body = f'<p class="note" id="credit-counts">{e(counts)}.</p>' + table(headers, out)
    if data.credit_missing_fx:
        body += (f'<p class="note">{data.credit_missing_fx} customer(s) could not be checked: an '
                 f"amount has no exchange rate on {data.as_of}.</p>")
    return section("credit-warnings", "Credit-limit warnings",
                   "Customers whose exposure (open AR + open orders) reached a warning level of "
                   "their credit limit, highest first.", body, "marts.fct_credit_exposure")


def _reconciliation(data: ReportData) -> str:
    parts = ["<h3>Auto-match rate tonight</h3>"]
    if data.match_tonight:
        parts.append(table(
            [("Currency", ""), ("AR receipts, last 30 days", "num"),
             ("Applied by the matcher", "num"), ("Auto-match rate", "num")],
            [({"data-currency": m.currency, "data-amount": raw(m.receipts),
               "data-applied": raw(m.matcher_applied), "data-rate": raw(m.rate)},
              [e(m.currency), money(m.receipts), money(m.matcher_applied), pct_of(m.rate)])
             for m in data.match_tonight], css="match-tonight"))
    else:
        parts.append(empty("no KPIs for tonight."))
    parts.append("<h3>Auto-match rate by month of receipt</h3>")
    parts.append('<p class="note">The published warehouse keeps tonight\'s reconciliation only, '
                 "not earlier nights' rates: each month's receipts are shown as reconciled "
                 "tonight (the matcher's share of the AR receipt amount).</p>")
    parts.append(_match_trend(data))
    parts.append("<h3>Open exceptions</h3>")
    if not data.exceptions:
        parts.append(empty("no open reconciliation exceptions."))
    else:
        parts.append(table(
            [("Currency", ""), ("Open exceptions", "num"), ("Amount", "num"),
             ("Oldest payment (value date)", "date")],
            [({"data-currency": x.currency, "data-count": str(x.count), "data-amount": raw(x.amount)},
              [e(x.currency), f"{x.count:,}", money(x.amount), e(x.oldest or "–")])
             for x in data.exceptions], css="exceptions-total"))
        parts.append("<h4>By reason</h4>")
        parts.append(table(
            [("Reason", ""), ("Currency", ""), ("Count", "num"), ("Amount", "num")],
            [({"data-reason": r.reason_code, "data-currency": r.currency,
               "data-count": str(r.count), "data-amount": raw(r.amount)},
              [f'<span title="{e(r.reason_code)}">{e(_reason(r.reason_code))}</span>',
               e(r.currency), f"{r.count:,}", money(r.amount)])
             for r in data.exception_reasons]))
        parts.append(f"<h4>The {len(data.oldest_exceptions)} oldest payments waiting</h4>")
        parts.append(table(
            [("Value date", "date"), ("Exception since", "date"), ("Currency", ""),
             ("Amount", "num"), ("Counterparty", "wrap"), ("Reason", ""),
             ("Remittance information", "wrap")],
            [({"data-amount": raw(x.amount)},
              [e(x.effective_date), e(x.first_seen or "–"), e(x.currency), money(x.amount),
               e(x.counterparty), e(_reason(x.reason_code)), e(_shorten(x.remittance))])
             for x in data.oldest_exceptions], css="oldest-exceptions"))
    return section("reconciliation", "Reconciliation",
                   "How much of the money received the matcher applied by itself, and the "
                   "payments waiting for a person.", "".join(parts),
                   "marts.fct_ar_kpis, marts.fct_bank_receipts, marts.fct_payment_allocations, "
                   "marts.fct_reconciliation_exceptions")


def _match_trend(data: ReportData) -> str:
    if not data.match_trend:
        return empty(f"no receipts in the {TREND_MONTHS} months to {data.as_of}.")
    periods = sorted({m.period for m in data.match_trend})
    currencies = sorted({m.currency for m in data.match_trend})
    css = _currency_css(currencies)
    lines = []
    for currency in currencies:
        by_period = {m.period: m for m in data.match_trend if m.currency == currency}
        points: list[Mark | None] = []
        for p in periods:
            m = by_period.get(p)
            if m is None or m.rate is None:
                points.append(None)
                continue
            points.append(Mark(float(m.rate) * 100,
                               {"data-currency": currency, "data-period": p,
                                "data-rate": raw(m.rate), "data-amount": raw(m.receipts),
                                "data-applied": raw(m.matcher_applied)},
                               f"{p} {currency}: {pct_of(m.rate)} of {money(m.receipts)} "
                               f"applied by the matcher"))
        lines.append(Line(currency, css[currency], points))
    ticks = [(float(v), f"{v} %") for v in (0, 25, 50, 75, 100)]
    chart = charts.line_chart(lines, periods, label="Auto-match rate by month of receipt",
                              ticks=ticks)
    note = ""
    if len(periods) == 1:
        note = (f'<p class="note">Only one month ({periods[0]}) of receipts so far: one point '
                "per currency.</p>")
    return (legend([(c, css[c]) for c in currencies])
            + f'<div class="chart-box" id="match-trend">{chart}</div>' + note)


def _reason(code: str) -> str:
    return code.replace("_", " ").capitalize() if code else "–"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the page
def render(data: ReportData) -> str:
    """The whole report as HTML text."""
    meta = [f"Night of {data.as_of}"]
    if data.published_at:
        meta.append(f"published {data.published_at:%Y-%m-%d %H:%M}")
    meta.append(f"source {data.source_name}")
    meta.append("amounts in the invoice's or payment's own currency unless stated")
    warnings = []
    if data.data_as_of and data.data_as_of != data.as_of:
        warnings.append(f'<p class="warning" id="as-of-warning">This warehouse holds the night of '
                        f"{data.data_as_of}, not {data.as_of}: the figures below are "
                        f"{data.data_as_of}'s.</p>")
    if data.missing_tables:
        warnings.append(f'<p class="warning" id="missing-tables">Not in this warehouse: '
                        f"{e(', '.join(data.missing_tables))}; the sections that need them are "
                        "empty.</p>")
    header = (f"<header><h1>Accounts receivable — {e(long_date(data.as_of))}</h1>"
              f'<p class="meta">{e(" · ".join(meta))}</p>{"".join(warnings)}</header>')
    nav = "<nav>" + "".join(f'<a href="#{sid}">{e(title)}</a>' for sid, title in SECTIONS) + "</nav>"
    sections = [_headline(data), _aging(data), _aging_trend(data), _collections(data),
                _top_overdue(data), _credit(data), _reconciliation(data)]
    footer = ("<footer>AR Warehouse nightly report. Every figure comes from the published "
              "warehouse: query it read-only with <code>arw sql</code> (the tables are named "
              "under each section).</footer>")
    body = header + nav + "<main>" + "".join(sections) + "</main>" + footer
    return page(e(f"AR report {data.as_of}"), body)


def write_report(published_db: Path, out_html: Path, as_of: date) -> Path:
    """Read the published warehouse read-only and replace ``out_html`` atomically."""
    published_db, out_html = Path(published_db), Path(out_html)
    if not published_db.is_file():
        raise FileNotFoundError(f"published warehouse {published_db}: expected a DuckDB file, "
                                "found nothing")
    con = open_read_only(published_db)
    try:
        data = load(con, as_of, published_db.name)
    finally:
        con.close()
    text = render(data)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(f".{out_html.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out_html)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_html
