"""The nightly HTML report on a small hand-made published warehouse: every number shown equals
the mart it comes from, text from the data is escaped, nothing is fetched from outside, empty
marts say so, and a failing report never fails the night."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.report import write_report
from pipelines.report.build import money, pct, pct_of
from pipelines.report.charts import nice_ticks
from pipelines.settings import DBT_PROJECT_DIR, Settings
from tests.unit.report_sql import TOP_OVERDUE_SQL

AS_OF = date(2026, 10, 31)

# The published columns and types of the marts the report reads (as DESCRIBE shows them).
TABLES = {
    "marts.fct_ar_aging": "as_of_date DATE, invoice_id VARCHAR, invoice_number VARCHAR, customer_id VARCHAR, salesperson_id VARCHAR, currency VARCHAR, invoice_amount DECIMAL(18,2), open_amount DECIMAL(18,2), due_date DATE, days_past_due INTEGER, aging_bucket VARCHAR, origin_year INTEGER, is_key_account BOOLEAN, disputed BOOLEAN, issue_date DATE, aging_bucket_rank INTEGER",
    "marts.fct_ar_kpis": "as_of_date DATE, currency VARCHAR, basis VARCHAR, amount_currency VARCHAR, fx_rate DECIMAL(18,6), missing_fx_rate BOOLEAN, window_days INTEGER, total_ar DECIMAL(18,2), current_ar DECIMAL(18,2), overdue_ar DECIMAL(18,2), net_credit_sales DECIMAL(18,2), ar_at_window_start DECIMAL(18,2), collected_in_window DECIMAL(18,2), collectible_in_window DECIMAL(18,2), ar_receipts_amount DECIMAL(18,2), matcher_applied_amount DECIMAL(18,2), dso DECIMAL(18,2), countback_dso DECIMAL(18,2), countback_exceeds_lookback BOOLEAN, best_possible_dso DECIMAL(18,2), add_days DECIMAL(18,2), cei DECIMAL(18,4), collection_rate DECIMAL(18,4), auto_match_rate DECIMAL(18,4)",
    "marts.fct_ar_aging_history": "as_of_date DATE, customer_id VARCHAR, salesperson_id VARCHAR, aging_bucket VARCHAR, origin_year INTEGER, currency VARCHAR, open_amount DECIMAL(18,2), invoice_count INTEGER",
    "marts.fct_collections_vs_target": "as_of_date DATE, salesperson_id VARCHAR, period VARCHAR, month_start DATE, currency VARCHAR, target_amount DECIMAL(18,2), collected_amount DECIMAL(18,2), attainment_pct DECIMAL(18,4)",
    "marts.fct_credit_exposure": "as_of_date DATE, customer_id VARCHAR, customer_name VARCHAR, currency VARCHAR, credit_limit DECIMAL(18,2), open_ar DECIMAL(18,2), open_orders DECIMAL(18,2), exposure DECIMAL(18,2), utilization_pct DECIMAL(18,4), warning_level VARCHAR, missing_fx_rate BOOLEAN",
    "marts.fct_reconciliation_exceptions": "transaction_id VARCHAR, bank_reference VARCHAR, effective_date DATE, amount DECIMAL(18,2), currency VARCHAR, counterparty_name VARCHAR, counterparty_account VARCHAR, remittance_info VARCHAR, reason_code VARCHAR, candidate_invoice_numbers VARCHAR, payer_customer_id VARCHAR, first_seen_date DATE",
    "marts.fct_bank_receipts": "transaction_id VARCHAR, bank_reference VARCHAR, effective_date DATE, amount DECIMAL(18,2), currency VARCHAR, customer_id VARCHAR, applied_amount DECIMAL(18,2), unapplied_amount DECIMAL(18,2), excluded_amount DECIMAL(18,2), status VARCHAR, reason_code VARCHAR, payer_evidence VARCHAR, counterparty_name VARCHAR",
    "marts.fct_payment_allocations": "transaction_id VARCHAR, bank_reference VARCHAR, invoice_id VARCHAR, invoice_number VARCHAR, customer_id VARCHAR, allocated_amount DECIMAL(18,2), currency VARCHAR, value_date DATE, match_rule VARCHAR, rule_version VARCHAR, confidence DOUBLE, decided_by VARCHAR",
    "marts.dim_customers": "customer_id VARCHAR, name VARCHAR, salesperson_id VARCHAR, credit_limit DECIMAL(18,2), is_key_account BOOLEAN, currency VARCHAR, country VARCHAR, payment_terms_days INTEGER",
    "marts.dim_salespeople": "salesperson_id VARCHAR, name VARCHAR, team VARCHAR, manager_id VARCHAR",
    "audit.runs": "run_id VARCHAR, as_of_date DATE, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, reason VARCHAR",
}
BUCKETS = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"),
           (365, "181-365"))
SCRIPT_NAME = "Alpha <script>alert(1)</script> GmbH"
IMG_PAYER = "<img src=x onerror=alert(1)>"

# customer, currency, open amount, days past due
INVOICES = [
    ("C01", "EUR", "1000.10", -5), ("C01", "EUR", "2500.55", 45), ("C01", "EUR", "12345678.91", 400),
    ("C02", "CHF", "300.00", 0), ("C02", "CHF", "3900.00", 20),
    ("C03", "EUR", "4000.00", 5), ("C04", "EUR", "3000.00", 35), ("C05", "EUR", "2000.00", 65),
    ("C06", "EUR", "1000.00", 95), ("C07", "EUR", "900.00", 200), ("C08", "EUR", "800.00", 3),
    ("C09", "EUR", "700.00", 3), ("C10", "EUR", "600.00", 3), ("C11", "EUR", "500.00", 3),
    ("C12", "EUR", "400.00", 3), ("C13", "USD", "999999.99", 100),
]
FX = {"EUR": Decimal("1.000000"), "CHF": Decimal("1.050000"), "USD": None}  # USD: no rate


def _bucket(days: int) -> tuple[str, int]:
    for rank, (upper, label) in enumerate(BUCKETS, 1):
        if days <= upper:
            return label, rank
    return "over-365", len(BUCKETS) + 1


def _create(con: duckdb.DuckDBPyConnection, tables=TABLES) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS audit")
    for name, columns in tables.items():
        con.execute(f"CREATE TABLE {name} ({columns})")


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    names = {"C01": SCRIPT_NAME, "C02": "Beta & Söhne AG", "C13": "Gamma Corp"}
    currency = {"C02": "CHF", "C13": "USD"}
    for n in range(1, 14):
        cid = f"C{n:02d}"
        con.execute("INSERT INTO marts.dim_customers VALUES (?, ?, 'S1', 10000, false, ?, 'DE', 30)",
                    [cid, names.get(cid, f"Customer {n:02d}"), currency.get(cid, "EUR")])
    con.execute("INSERT INTO marts.dim_salespeople VALUES ('S1', 'Anna <b>Meier</b>', 'North', NULL),"
                " ('S2', 'Ben Okafor', 'South', 'S1')")
    for i, (cid, cur, amount, days) in enumerate(INVOICES, 1):
        label, rank = _bucket(days)
        due = AS_OF - timedelta(days=days)
        con.execute("INSERT INTO marts.fct_ar_aging VALUES (?, ?, ?, ?, 'S1', ?, ?, ?, ?, ?, ?, 2026,"
                    " false, false, ?, ?)",
                    [AS_OF, str(i), f"INV-{i:03d}", cid, cur, amount, amount, due, days, label,
                     due - timedelta(days=30), rank])
    con.execute("""
        INSERT INTO marts.fct_ar_aging_history
        SELECT as_of_date, customer_id, salesperson_id, aging_bucket, origin_year, currency,
               sum(open_amount), count(*)
        FROM marts.fct_ar_aging GROUP BY ALL""")
    con.execute("INSERT INTO marts.fct_ar_aging_history VALUES "
                "('2026-10-30', 'C01', 'S1', 'current', 2026, 'EUR', 500.00, 1),"
                "('2026-10-30', 'C01', 'S1', 'over-365', 2026, 'EUR', 12345678.91, 1),"
                "('2026-10-30', 'C02', 'S1', '1-30', 2026, 'CHF', 4200.00, 2)")
    for cur, fx in FX.items():
        total, overdue = con.execute(
            "SELECT sum(open_amount), sum(open_amount) FILTER (WHERE days_past_due > 0) "
            "FROM marts.fct_ar_aging WHERE currency = ?", [cur]).fetchone()
        receipts, applied = {"EUR": ("2000.00", "1500.00"), "CHF": ("400.00", "0.00")}.get(
            cur, ("0.00", "0.00"))
        kpi = [AS_OF, cur, "native", cur, Decimal(1), False, 90, total, total - overdue, overdue,
               receipts, applied, "45.50", "72.1234",
               (Decimal(applied) / Decimal(receipts)).quantize(Decimal("0.0001"))
               if Decimal(receipts) else None]
        con.execute("INSERT INTO marts.fct_ar_kpis (as_of_date, currency, basis, amount_currency, "
                    "fx_rate, missing_fx_rate, window_days, total_ar, current_ar, overdue_ar, "
                    "ar_receipts_amount, matcher_applied_amount, dso, cei, auto_match_rate) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", kpi)
        def converted(value, fx=fx):
            return (value * fx).quantize(Decimal("0.01")) if fx else None

        con.execute("INSERT INTO marts.fct_ar_kpis (as_of_date, currency, basis, amount_currency, "
                    "fx_rate, missing_fx_rate, window_days, total_ar, overdue_ar) "
                    "VALUES (?, ?, 'reporting', 'EUR', ?, ?, 90, ?, ?)",
                    [AS_OF, cur, fx, fx is None, converted(total), converted(overdue)])
    con.execute("""INSERT INTO marts.fct_collections_vs_target VALUES
        ('2026-10-31', 'S1', '2026-10', '2026-10-01', 'EUR', 1000.00, 1500.00, 150.0000),
        ('2026-10-31', 'S2', '2026-10', '2026-10-01', 'EUR', NULL, 200.00, NULL),
        ('2026-10-31', 'S1', '2026-09', '2026-09-01', 'CHF', 100.00, 50.00, 50.0000),
        ('2026-10-31', 'S2', '2026-08', '2026-08-01', 'EUR', 100.00, 99.00, 99.0000)""")
    con.execute(f"""INSERT INTO marts.fct_credit_exposure VALUES
        ('2026-10-31', 'C03', 'Customer 03', 'EUR', 4800.00, 3864.00, 0.00, 3864.00, 80.5000, '80', false),
        ('2026-10-31', 'C01', '{SCRIPT_NAME}', 'EUR', 10000.00, 12345.67, 0.00, 12345.67, 123.4567, '100', false),
        ('2026-10-31', 'C02', 'Beta & Söhne AG', 'CHF', 4600.00, 4200.00, 0.00, 4200.00, 91.3043, '90', false),
        ('2026-10-31', 'C04', 'Customer 04', 'EUR', 10000.00, 3000.00, 0.00, 3000.00, 30.0000, 'none', false),
        ('2026-10-31', 'C13', 'Gamma Corp', 'USD', 5000.00, NULL, NULL, NULL, NULL, NULL, true)""")
    con.execute("INSERT INTO marts.fct_reconciliation_exceptions VALUES "
                "('T9', 'B9', '2026-10-20', 150.00, 'EUR', ?, NULL, '<script>steal()</script> INV-1',"
                " 'UNKNOWN_PAYER', NULL, NULL, '2026-10-21'),"
                "('T8', 'B8', '2026-10-02', 75.25, 'CHF', 'Müller & Co', NULL, 'Rechnung 7',"
                " 'SEVERAL_INVOICES_FIT_AMOUNT', 'INV-1,INV-2', NULL, '2026-10-02')", [IMG_PAYER])
    con.execute("""INSERT INTO marts.fct_bank_receipts VALUES
        ('T1', 'B1', '2026-09-10', 1000.00, 'EUR', 'C01', 1000.00, 0.00, 0.00, 'matched', NULL, NULL, 'A'),
        ('T2', 'B2', '2026-09-11', 500.00, 'EUR', NULL, 0.00, 500.00, 0.00, 'exception', NULL, NULL, 'B'),
        ('T3', 'B3', '2026-10-10', 2000.00, 'EUR', 'C03', 1500.00, 500.00, 0.00, 'partially_matched', NULL, NULL, 'C'),
        ('T4', 'B4', '2026-10-11', 300.00, 'EUR', NULL, 0.00, 0.00, 300.00, 'not_ar', NULL, NULL, 'D'),
        ('T5', 'B5', '2026-10-12', 400.00, 'CHF', 'C02', 400.00, 0.00, 0.00, 'matched', NULL, NULL, 'E'),
        ('T6', 'B6', '2025-10-15', 700.00, 'EUR', 'C01', 700.00, 0.00, 0.00, 'matched', NULL, NULL, 'F')""")
    con.execute("""INSERT INTO marts.fct_payment_allocations VALUES
        ('T1', 'B1', '1', 'INV-001', 'C01', 1000.00, 'EUR', '2026-09-10', 'r', '1', 1.0, 'matcher'),
        ('T3', 'B3', '6', 'INV-006', 'C03', 1500.00, 'EUR', '2026-10-10', 'r', '1', 1.0, 'matcher'),
        ('T5', 'B5', '5', 'INV-005', 'C02', 400.00, 'CHF', '2026-10-12', 'manual', '1', 1.0, 'person'),
        ('T6', 'B6', '1', 'INV-001', 'C01', 700.00, 'EUR', '2025-10-15', 'r', '1', 1.0, 'matcher')""")
    con.execute("INSERT INTO audit.runs VALUES ('run-1', ?, ?, ?, 'published', NULL)",
                [AS_OF, datetime(2026, 11, 1, 2, 30), datetime(2026, 11, 1, 2, 41)])


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The hand-made published warehouse; the tests only read it."""
    path = tmp_path_factory.mktemp("published") / "ar.duckdb"
    con = duckdb.connect(str(path))
    try:
        _create(con)
        _fill(con)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def report(published: Path) -> str:
    out = write_report(published, published.parent / "report.html", AS_OF)
    return out.read_text(encoding="utf-8")


def _sql(db: Path, query: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


class _Elements(HTMLParser):
    """Every start tag with its attributes and the id of the section it sits in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, dict, str]] = []
        self.section = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section":
            self.section = attributes.get("id", "")
        self.items.append((tag, attributes, self.section))


def elements(html: str, section: str, tag: str, attribute: str) -> list[dict]:
    parser = _Elements()
    parser.feed(html)
    return [a for t, a, s in parser.items if s == section and t == tag and attribute in a]


def section_html(html: str, section: str) -> str:
    match = re.search(rf'<section id="{section}">.*?</section>', html, re.S)
    assert match, section
    return match.group(0)


# --------------------------------------------------------------------------- values
def test_headline_totals_equal_the_aging_sums_formatted(published, report):
    expected = _sql(published, """
        SELECT currency, sum(open_amount), sum(open_amount) FILTER (WHERE days_past_due > 0)
        FROM marts.fct_ar_aging GROUP BY 1 ORDER BY 1""")
    cards = elements(report, "headline", "div", "data-total")
    assert [(c["data-currency"], Decimal(c["data-total"]), Decimal(c["data-overdue"]))
            for c in cards] == expected
    head = section_html(report, "headline")
    assert "EUR 12,363,079.56" in head  # the SQL sum, formatted with separators and cents
    assert "Overdue EUR 12,362,079.46" in head
    assert "CHF 4,200.00" in head and "USD 999,999.99" in head
    # the reporting-currency total leaves out the currency without a rate, and says so
    note = elements(report, "headline", "p", "data-total")[0]
    assert Decimal(note["data-total"]) == Decimal("12363079.56") + Decimal("4410.00")  # CHF × 1.05
    assert "Not included (no exchange rate on 2026-10-31): USD" in head


def test_each_aging_bar_carries_its_bucket_sum_exactly(published, report):
    sums = {(c, b): a for c, b, a in _sql(published, """
        SELECT currency, aging_bucket, sum(open_amount) FROM marts.fct_ar_aging GROUP BY ALL""")}
    bars = elements(report, "aging", "rect", "data-bucket")
    shown = {(b["data-currency"], b["data-bucket"]): Decimal(b["data-amount"]) for b in bars}
    assert {k: v for k, v in shown.items() if v} == sums
    assert all(v == 0 for k, v in shown.items() if k not in sums)
    # every currency shows every bucket, in bucket order
    order = ["current", "1-30", "31-60", "61-90", "91-180", "181-365", "over-365"]
    for currency in ("CHF", "EUR", "USD"):
        assert [b["data-bucket"] for b in bars if b["data-currency"] == currency] == order
    assert "12,345,678.91" in section_html(report, "aging")


def test_top_overdue_customers_are_the_sql_top_10_in_the_reporting_currency(published, report):
    expected = _sql(published, TOP_OVERDUE_SQL)
    rows = elements(report, "top-overdue", "tr", "data-rank")
    assert [(r["data-customer-id"], r["data-currency"], Decimal(r["data-amount"]))
            for r in rows] == expected
    # CHF 3,900.00 is EUR 4,095.00: ahead of EUR 4,000.00; USD has no rate and is not ranked
    assert [r["data-customer-id"] for r in rows] == ["C01", "C02", "C03", "C04", "C05", "C06",
                                                       "C07", "C08", "C09", "C10"]
    table = section_html(report, "top-overdue")
    assert "4,095.00" in table
    assert "Ranked after the others: overdue amounts in USD" in table


def test_the_trend_has_a_column_per_night_with_the_history_sums(published, report):
    sums = {(d.isoformat(), c, b): a for d, c, b, a in _sql(published, """
        SELECT as_of_date, currency, aging_bucket, sum(open_amount)
        FROM marts.fct_ar_aging_history GROUP BY ALL""")}
    segments = elements(report, "aging-trend", "rect", "data-date")
    assert {(s["data-date"], s["data-currency"], s["data-bucket"]): Decimal(s["data-amount"])
            for s in segments} == sums
    trend = section_html(report, "aging-trend")
    assert "2026-10-31: open EUR 12,363,079.56, overdue 12,362,079.46; since 2026-10-30: open " \
           "+16,900.65, overdue +16,400.55." in trend
    assert "2026-10-31: open CHF 4,200.00, overdue 3,900.00; since 2026-10-30: open 0.00, " \
           "overdue -300.00." in trend
    assert "Only one night" not in trend


def test_collections_show_this_and_last_month_against_target(published, report):
    bars = elements(report, "collections", "rect", "data-salesperson")
    assert [(b["data-period"], b["data-currency"], b["data-salesperson"], b["data-amount"],
             b["data-target"], b["data-attainment"]) for b in bars] == [
        ("2026-10", "EUR", "S1", "1500.00", "1000.00", "150.0000"),
        ("2026-10", "EUR", "S2", "200.00", "", ""),
        ("2026-09", "CHF", "S1", "50.00", "100.00", "50.0000"),
    ]
    text = section_html(report, "collections")
    assert "October 2026, to 2026-10-31" in text and "September 2026" in text
    assert "1,500.00 of 1,000.00 · 150.0\u00a0%" in text and "200.00 · no target" in text
    assert "Anna &lt;b&gt;Meier&lt;/b&gt;" in text and "<b>Meier" not in text


def test_credit_warnings_highest_level_first_and_unchecked_customers_counted(published, report):
    rows = elements(report, "credit-warnings", "tr", "data-level")
    assert [(r["data-customer-id"], r["data-level"], r["data-utilization"]) for r in rows] == [
        ("C01", "100", "123.4567"), ("C02", "90", "91.3043"), ("C03", "80", "80.5000")]
    text = section_html(report, "credit-warnings")
    assert "3 customer(s) at a warning level: 1 at or over 100\u00a0%, 1 at or over 90\u00a0%, " \
           "1 at or over 80\u00a0% of their credit limit." in text
    assert "1 customer(s) could not be checked" in text
    assert "12,345.67" in text


def test_only_the_highest_credit_warnings_are_listed_and_every_warned_customer_counted(
        published, tmp_path, monkeypatch):
    from pipelines.report import data

    monkeypatch.setattr(data, "TOP_CREDIT", 2)
    html = write_report(published, tmp_path / "r.html", AS_OF).read_text(encoding="utf-8")
    rows = elements(html, "credit-warnings", "tr", "data-level")
    assert [(r["data-customer-id"], r["data-level"]) for r in rows] == [("C01", "100"), ("C02", "90")]
    text = section_html(html, "credit-warnings")
    assert "3 customer(s) at a warning level: 1 at or over 100\u00a0%, 1 at or over 90\u00a0%, " \
           "1 at or over 80\u00a0% of their credit limit; the 2 highest are listed " \
           "(all: marts.fct_credit_exposure)." in text


def test_reconciliation_exceptions_and_the_monthly_auto_match_rate(published, report):
    totals = elements(report, "reconciliation", "tr", "data-count")
    assert {(t["data-currency"], t["data-count"], t["data-amount"]) for t in totals
            if "data-reason" not in t} == {("CHF", "1", "75.25"), ("EUR", "1", "150.00")}
    points = elements(report, "reconciliation", "circle", "data-rate")
    # September EUR: 1,000.00 of 1,500.00 by the matcher; October EUR: 1,500.00 of 2,000.00
    # (not-AR money left out); October CHF: applied by a person, not the matcher. The receipt of
    # 2025-10 is older than the 12 months shown.
    assert [(p["data-currency"], p["data-period"], p["data-rate"], p["data-amount"])
            for p in points] == [("CHF", "2026-10", "0.0000", "400.00"),
                                 ("EUR", "2026-09", "0.6667", "1500.00"),
                                 ("EUR", "2026-10", "0.7500", "2000.00")]
    tonight = elements(report, "reconciliation", "tr", "data-applied")
    assert [(t["data-currency"], t["data-rate"]) for t in tonight] == [
        ("CHF", "0.0000"), ("EUR", "0.7500"), ("USD", "")]
    text = section_html(report, "reconciliation")
    assert "75.0\u00a0%" in text
    assert "keeps tonight's reconciliation only" in text
    # the oldest payment first
    assert text.index("Müller &amp; Co") < text.index("&lt;img src=x onerror=alert(1)&gt;")


# --------------------------------------------------------------------------- safety
def test_the_page_references_nothing_outside_itself(report):
    lowered = report.lower()
    assert "http://" not in lowered and "https://" not in lowered
    parser = _Elements()
    parser.feed(report)
    links = [v for _, attrs, _ in parser.items for k, v in attrs.items()
             if k in ("src", "href", "action", "srcset", "poster", "data")]
    assert links and all(v.startswith("#") for v in links), links  # in-page anchors only
    assert "<script" not in lowered and "<link" not in lowered and "url(" not in lowered
    assert "default-src 'none'" in report  # and the browser is told to refuse any fetch


def test_text_from_the_data_is_escaped(report):
    assert "Alpha &lt;script&gt;alert(1)&lt;/script&gt; GmbH" in report
    assert "&lt;img src=x onerror=alert(1)&gt;" in report
    assert "&lt;script&gt;steal()&lt;/script&gt; INV-1" in report
    assert "Beta &amp; Söhne AG" in report
    assert "<img" not in report and "alert(1)</script>" not in report


# --------------------------------------------------------------------------- robustness
def test_an_empty_warehouse_says_nothing_to_show_in_every_section(tmp_path):
    db = tmp_path / "ar.duckdb"
    con = duckdb.connect(str(db))
    _create(con)
    con.close()
    html = write_report(db, tmp_path / "report.html", AS_OF).read_text(encoding="utf-8")
    for section in ("headline", "aging", "aging-trend", "collections", "top-overdue",
                    "credit-warnings", "reconciliation"):
        assert "Nothing to show:" in section_html(html, section), section
    assert 'class="warning"' not in html


def test_a_warehouse_without_some_marts_renders_and_names_what_is_missing(tmp_path):
    db = tmp_path / "ar.duckdb"
    con = duckdb.connect(str(db))
    _create(con, {k: v for k, v in TABLES.items() if k in ("marts.fct_ar_aging", "audit.runs")})
    con.execute("INSERT INTO marts.fct_ar_aging (as_of_date, invoice_id, customer_id, currency, "
                "open_amount, days_past_due, aging_bucket, aging_bucket_rank) VALUES "
                "('2026-10-31', '1', 'C1', 'EUR', 10.00, 3, '1-30', 2)")
    con.close()
    html = write_report(db, tmp_path / "report.html", AS_OF).read_text(encoding="utf-8")
    assert 'id="missing-tables"' in html and "marts.fct_ar_kpis" in html
    assert "EUR 10.00" in section_html(html, "headline")
    assert "Nothing to show" in section_html(html, "credit-warnings")


def test_a_report_for_another_night_than_the_warehouse_holds_says_so(published, tmp_path):
    html = write_report(published, tmp_path / "r.html", date(2026, 11, 1)).read_text("utf-8")
    assert "This warehouse holds the night of 2026-10-31, not 2026-11-01" in html


def test_the_report_is_replaced_atomically_and_kept_when_it_cannot_be_written(published, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("yesterday's report")
    assert write_report(published, out, AS_OF) == out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    before = out.read_bytes()
    with pytest.raises(FileNotFoundError, match="published warehouse"):
        write_report(tmp_path / "missing.duckdb", out, AS_OF)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_the_fixture_tables_have_the_published_contract_columns():
    """The hand-made marts above match the dbt contracts, so the report reads real columns."""
    contracts = {}
    for path in (DBT_PROJECT_DIR / "models" / "marts").rglob("_*models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]:
            columns = model.get("columns", [])
            if columns and all(c.get("data_type") for c in columns):
                contracts[f"marts.{model['name']}"] = [(c["name"], c["data_type"].upper().replace(
                    " ", "")) for c in columns]
    checked = 0
    for table, ddl in TABLES.items():
        if table in contracts:
            ours = [tuple(part.strip().split(" ", 1)) for part in re.split(r",\s(?![^()]*\))", ddl)]
            assert [(n, t.replace(" ", "")) for n, t in ours] == contracts[table], table
            checked += 1
    assert checked >= 7


# --------------------------------------------------------------------------- small parts
def test_money_is_exact_with_separators_and_two_decimals():
    assert money(Decimal("1234567.5")) == "1,234,567.50"
    assert money(Decimal("-0.05")) == "-0.05"
    assert money(Decimal("12345678901234.99")) == "12,345,678,901,234.99"
    assert money(None) == "–"
    assert pct(Decimal("95.1234")) == "95.1\u00a0%" and pct_of(Decimal("0.8212")) == "82.1\u00a0%"


def test_axis_ticks_are_round_numbers_reaching_the_top():
    assert nice_ticks(Decimal("5800984.68")) == [Decimal(v) for v in
                                                 (0, 2000000, 4000000, 6000000)]
    assert nice_ticks(Decimal("457090.18"))[-1] >= Decimal("457090.18")
    assert nice_ticks(Decimal(0)) == [Decimal(0), Decimal(1)]


def test_the_report_lives_beside_the_published_warehouse(tmp_path):
    settings = Settings(inbox=tmp_path / "inbox", warehouse_dir=tmp_path / "wh")
    assert settings.report_html == settings.published_db.parent / "report.html"


# --------------------------------------------------------------------------- wiring
@pytest.fixture
def build_warehouse(tmp_path: Path, monkeypatch) -> Settings:
    """A build database with one mart and the audit tables: enough for the publish asset."""
    from pipelines.warehouse import ensure_schema

    for name in [n for n in os.environ if n.startswith("ARW_")]:
        monkeypatch.delenv(name)
    settings = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    settings.warehouse_dir.mkdir(parents=True)
    con = duckdb.connect(str(settings.build_db))
    try:
        ensure_schema(con)
        con.execute("CREATE SCHEMA marts")
        con.execute(f"CREATE TABLE marts.fct_ar_aging ({TABLES['marts.fct_ar_aging']})")
        con.execute("INSERT INTO marts.fct_ar_aging (as_of_date, invoice_id, customer_id, currency, "
                    "open_amount, days_past_due, aging_bucket, aging_bucket_rank) VALUES "
                    "('2026-10-31', '1', 'C1', 'EUR', 10.00, 3, '1-30', 2)")
    finally:
        con.close()
    return settings


def _materialize_publish(settings: Settings):
    from dagster import DagsterInstance, DailyPartitionsDefinition, materialize

    from pipelines.publish import build_publish_asset
    from pipelines.resources import WarehouseResource

    asset = build_publish_asset([], DailyPartitionsDefinition(start_date="2026-10-01"))
    result = materialize([asset], partition_key=AS_OF.isoformat(), instance=DagsterInstance.ephemeral(),
                         resources={"warehouse": WarehouseResource(inbox=str(settings.inbox),
                                                                   warehouse_dir=str(settings.warehouse_dir))},
                         raise_on_error=False)
    events = result.get_asset_materialization_events()
    return result, (events[0].materialization.metadata if events else {})


def test_publish_writes_the_report_beside_the_published_file(build_warehouse):
    result, metadata = _materialize_publish(build_warehouse)
    assert result.success
    assert metadata["report"].value == str(build_warehouse.report_html)
    assert "EUR 10.00" in build_warehouse.report_html.read_text(encoding="utf-8")


def test_a_failing_report_neither_fails_the_night_nor_unpublishes(build_warehouse, monkeypatch):
    import pipelines.report

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipelines.report, "write_report", broken)
    result, metadata = _materialize_publish(build_warehouse)
    assert result.success
    assert metadata["report_error"].value == "RuntimeError: disk full"
    assert build_warehouse.published_db.is_file() and not build_warehouse.report_html.exists()
