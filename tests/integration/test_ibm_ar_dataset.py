"""The IBM Watson Analytics accounts-receivable sample, run through real nights.

The dataset (2,466 invoices of 100 customers, 2012–2013) records for every invoice when it was
settled and the derived DaysToSettle = SettledDate − InvoiceDate and DaysLate =
max(0, SettledDate − DueDate). It is converted into an inbox (customers, invoices kept with
their numbers as text, and a generic bank CSV paying each invoice by its number on its
SettledDate with the exact amount), nights run for several as-of dates in one warehouse, and
the published marts must reproduce what the dataset's own dates imply: an invoice is open at D
when InvoiceDate ≤ D < SettledDate.

Its licence is unclear, so the file is read where it lies (never copied into the project);
the tests skip, visibly, when it is not there.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.nightly import run_nightly
from pipelines.settings import DEFAULT_AGING_BUCKETS, OVER_LAST_BUCKET, Settings

DATASET = Path("/work/shared/data/external/ar_invoices/ibm_watson/WA_Fn-UseC_-Accounts-Receivable.csv")
AS_OF_DATES = (date(2012, 6, 30), date(2013, 3, 31), date(2013, 12, 31))
CURRENCY = "USD"


@dataclass(frozen=True)
class Invoice:
    customer_id: str
    number: str
    invoice_date: date
    due_date: date
    amount: Decimal
    disputed: bool
    settled_date: date
    days_to_settle: int
    days_late: int


def _us_date(text: str) -> date:
    return datetime.strptime(text.strip(), "%m/%d/%Y").date()


def read_dataset() -> list[Invoice]:
    if not DATASET.is_file():
        pytest.skip(f"IBM accounts-receivable dataset not found: {DATASET}")
    with DATASET.open(newline="", encoding="utf-8") as handle:
        return [Invoice(
            customer_id=row["customerID"],
            number=row["invoiceNumber"],  # text: leading zeros matter
            invoice_date=_us_date(row["InvoiceDate"]),
            due_date=_us_date(row["DueDate"]),
            amount=Decimal(row["InvoiceAmount"]),
            disputed=row["Disputed"].strip() == "Yes",
            settled_date=_us_date(row["SettledDate"]),
            days_to_settle=int(row["DaysToSettle"]),
            days_late=int(row["DaysLate"]),
        ) for row in csv.DictReader(handle)]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _customer_name(customer_id: str) -> str:
    return f"Customer {customer_id}"


def write_inbox(invoices: list[Invoice], inbox: Path) -> Path:
    customers = sorted({i.customer_id for i in invoices})
    _write_csv(inbox / "erp" / "customers.csv",
               ["customer_id", "name", "country", "currency", "credit_limit", "payment_terms_days",
                "salesperson_id", "is_key_account", "bank_accounts", "aliases", "updated_at"],
               [[c, _customer_name(c), "", CURRENCY, "", 30, "S1", "false", "", "", ""]
                for c in customers])
    _write_csv(inbox / "erp" / "salespeople.csv", ["salesperson_id", "name", "team", "manager_id"],
               [["S1", "Sample Salesperson", "", ""]])
    _write_csv(inbox / "erp" / "invoices.csv",
               ["invoice_id", "invoice_number", "order_id", "customer_id", "salesperson_id",
                "issue_date", "due_date", "currency", "amount", "status", "disputed", "updated_at"],
               [[i.number, i.number, "", i.customer_id, "", i.invoice_date.isoformat(),
                 i.due_date.isoformat(), CURRENCY, str(i.amount), "issued",
                 "true" if i.disputed else "false", ""] for i in invoices])
    _write_csv(inbox / "bank" / "payments.csv",
               ["account", "booking_date", "value_date", "amount", "currency", "counterparty_name",
                "counterparty_account", "reference", "remittance_info"],
               [["US00IBMSAMPLE0001", i.settled_date.isoformat(), i.settled_date.isoformat(),
                 str(i.amount), CURRENCY, _customer_name(i.customer_id), "", f"PAY-{i.number}",
                 f"Invoice {i.number}"] for i in invoices])
    return inbox


def _bucket(days_past_due: int) -> str:
    return next((label for upper, label in DEFAULT_AGING_BUCKETS if days_past_due <= upper),
                OVER_LAST_BUCKET)


@pytest.fixture(scope="module")
def dataset() -> list[Invoice]:
    return read_dataset()


@pytest.fixture(scope="module")
def published(dataset, tmp_path_factory) -> dict[date, dict]:
    """Nights for each as-of date in one warehouse; what each night published."""
    base = tmp_path_factory.mktemp("ibm")
    inbox = write_inbox(dataset, base / "inbox")
    results = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARW_PARTITIONS_START", "2010-01-01")
        mp.setenv("ARW_REPORTING_CURRENCY", "USD")
        settings = Settings.from_env().with_overrides(inbox, base / "wh")
        for as_of in AS_OF_DATES:
            outcome = run_nightly(settings, as_of)
            assert outcome.published, f"{as_of}: {outcome.reason}"
            con = duckdb.connect(str(settings.published_db), read_only=True)
            try:
                results[as_of] = {
                    "aging": {r[0]: r[1:] for r in con.execute(
                        "SELECT invoice_number, open_amount, days_past_due, aging_bucket, as_of_date "
                        "FROM marts.fct_ar_aging").fetchall()},
                    "buckets": dict(con.execute(
                        "SELECT aging_bucket, sum(open_amount) FROM marts.fct_ar_aging GROUP BY 1").fetchall()),
                    "invoices": {r[0]: r[1:] for r in con.execute(
                        "SELECT invoice_number, open_amount, settled_date, days_to_settle, days_late, "
                        "disputed FROM marts.fct_invoices").fetchall()},
                    "kpi_total_ar": con.execute(
                        "SELECT total_ar FROM marts.fct_ar_kpis WHERE basis = 'native' "
                        "AND currency = 'USD'").fetchall(),
                    "history": dict(con.execute(
                        "SELECT aging_bucket, sum(open_amount) FROM marts.fct_ar_aging_history "
                        "WHERE as_of_date = ? GROUP BY 1", [as_of]).fetchall()),
                    "history_dates": [r[0] for r in con.execute(
                        "SELECT DISTINCT as_of_date FROM marts.fct_ar_aging_history ORDER BY 1").fetchall()],
                }
            finally:
                con.close()
    return results


def _open_at(dataset: list[Invoice], as_of: date) -> dict[str, Invoice]:
    return {i.number: i for i in dataset if i.invoice_date <= as_of < i.settled_date}


@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
def test_open_ar_and_days_past_due_follow_the_dataset_dates(dataset, published, as_of):
    expected = _open_at(dataset, as_of)
    aging = published[as_of]["aging"]
    assert set(aging) == set(expected)
    assert {n: (a[0], a[1]) for n, a in aging.items()} == {
        n: (i.amount, (as_of - i.due_date).days) for n, i in expected.items()}
    total = sum((i.amount for i in expected.values()), Decimal(0))
    assert published[as_of]["kpi_total_ar"] == [(total,)]


@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
def test_bucket_totals_follow_the_dataset_dates(dataset, published, as_of):
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in _open_at(dataset, as_of).values():
        expected[_bucket((as_of - invoice.due_date).days)] += invoice.amount
    assert published[as_of]["buckets"] == dict(expected)
    assert published[as_of]["history"] == dict(expected)


@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
def test_days_to_settle_and_days_late_reproduce_the_dataset(dataset, published, as_of):
    invoices = published[as_of]["invoices"]
    issued = {i.number: i for i in dataset if i.invoice_date <= as_of}
    assert set(invoices) == set(issued)  # invoice numbers kept as text, leading zeros and all
    settled = {n: i for n, i in issued.items() if i.settled_date <= as_of}
    assert settled, as_of
    got = {n: invoices[n][1:4] for n in settled}
    assert got == {n: (i.settled_date, i.days_to_settle, i.days_late) for n, i in settled.items()}
    still_open = [n for n in issued if n not in settled]
    assert all(invoices[n][1:4] == (None, None, None) for n in still_open)
    assert {n: invoices[n][4] for n in issued} == {n: i.disputed for n, i in issued.items()}


def test_the_nights_kept_one_history_set_each(published):
    assert published[AS_OF_DATES[-1]]["history_dates"] == list(AS_OF_DATES)


def test_leading_zeros_are_kept(dataset, published):
    zeros = [i.number for i in dataset if i.number.startswith("0")]
    assert zeros and set(zeros) <= set(published[AS_OF_DATES[-1]]["invoices"])
