"""Statement sequence check (CONTRACT §1: statement numbers "where given (gaps are flagged)").

One night (``run_nightly``, ~20 s) on a tiny inbox: three MT940 statements of one account
numbered 1, 2 and 4, each in its own file, plus a camt.053 with its own numbering and a
generic CSV (no statement numbers). ``marts.fct_bank_statements`` must flag statement 4 as
a gap with 3 missing. The finer rules (pages, duplicates, year restarts) are dbt unit tests
in dbt_project/models/marts/bank/_bank__models.yml, which run inside the same night.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.nightly import run_nightly
from pipelines.settings import Settings

from .test_camt import entry, make_camt

AS_OF = date(2026, 10, 31)
ACCOUNT = "CH9300762011623852957"

ERP = {
    "customers.csv": (
        "customer_id,name,country,currency,credit_limit,payment_terms_days,salesperson_id,"
        "is_key_account,bank_accounts,aliases,updated_at\n"
        "C1,Alpha GmbH,DE,EUR,,30,S1,false,DE89370400440532013000,,\n"
    ),
    "salespeople.csv": "salesperson_id,name,team,manager_id\nS1,Anna Meier,North,\n",
    "invoices.csv": (
        "invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,"
        "currency,amount,status,disputed,updated_at\n"
        "I1,INV-1001,,C1,,2026-09-01,2026-10-01,EUR,100.00,issued,false,\n"
    ),
}


def mt940(number: int, day: int, opening: str, amount: str, closing: str) -> bytes:
    """One MT940 statement of ACCOUNT for 2026-10-<day>, :28C: <number>/1."""
    return (
        f":20:STMT{number:04d}\n:25:{ACCOUNT}\n:28C:{number}/1\n"
        f":60F:C2610{day:02d}EUR{opening}\n"
        f":61:2610{day:02d}{day:02d}{day:02d}C{amount}NTRFNONREF//B{number}\n"
        f":86:/REMI/INV-1001/NAME/ALPHA GMBH\n"
        f":62F:C2610{day:02d}EUR{closing}\n-\n"
    ).encode()


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sequence")
    inbox = root / "inbox"
    (inbox / "erp").mkdir(parents=True)
    (inbox / "bank").mkdir()
    for name, text in ERP.items():
        (inbox / "erp" / name).write_text(text, encoding="utf-8")
    bank = inbox / "bank"
    (bank / "stmt_001.sta").write_bytes(mt940(1, 5, "1000,00", "10,00", "1010,00"))
    (bank / "stmt_002.sta").write_bytes(mt940(2, 6, "1010,00", "20,00", "1030,00"))
    # statement 3 never arrives
    (bank / "stmt_004.sta").write_bytes(mt940(4, 8, "1030,00", "30,00", "1061,00"))  # 1 off
    (bank / "camt_oct.xml").write_bytes(
        make_camt(
            entries=entry(dates="<BookgDt><Dt>2024-01-15</Dt></BookgDt>"),
            stmt_id="CAMT-7",
        )
    )
    (bank / "generic.csv").write_text(
        "account,booking_date,value_date,amount,currency,counterparty_name,"
        "counterparty_account,reference,remittance_info\n"
        f"{ACCOUNT},2026-10-09,,5.00,EUR,Someone,,,thanks\n",
        encoding="utf-8",
    )
    settings = Settings.from_env().with_overrides(inbox, root / "wh")
    outcome = run_nightly(settings, AS_OF)
    assert outcome.published, outcome.reason
    return settings.published_db


def _rows(db: Path) -> dict[str, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("SELECT * FROM marts.fct_bank_statements ORDER BY source_file")
        names = [d[0] for d in cur.description]
        return {
            row[names.index("source_file")]: dict(zip(names, row, strict=True))
            for row in cur.fetchall()
        }
    finally:
        con.close()


def test_the_gap_before_statement_4_is_flagged_with_3_missing(night):
    rows = _rows(night)
    assert set(rows) == {
        "bank/stmt_001.sta",
        "bank/stmt_002.sta",
        "bank/stmt_004.sta",
        "bank/camt_oct.xml",
        "bank/generic.csv",
    }
    mt = {name: rows[name] for name in rows if name.endswith(".sta")}
    assert {
        n: (r["sequence_number"], r["statement_number"], r["page_number"]) for n, r in mt.items()
    } == {
        "bank/stmt_001.sta": ("1/1", 1, 1),
        "bank/stmt_002.sta": ("2/1", 2, 1),
        "bank/stmt_004.sta": ("4/1", 4, 1),
    }
    assert [
        (r["sequence_status"], r["missing_sequence_numbers"], r["missing_count"])
        for r in mt.values()
    ] == [
        ("ok", None, None),
        ("ok", None, None),
        ("gap", "3", 1),
    ]
    assert rows["bank/stmt_004.sta"]["previous_statement_number"] == 2


def test_balance_check_is_carried_alongside(night):
    rows = _rows(night)
    four = rows["bank/stmt_004.sta"]
    assert (four["balance_status"], four["balance_difference"]) == ("mismatch", Decimal("-1.00"))
    assert (four["opening_balance"], four["entries_total"], four["closing_balance"]) == (
        Decimal("1030.00"),
        Decimal("30.00"),
        Decimal("1061.00"),
    )
    assert rows["bank/stmt_001.sta"]["balance_status"] == "ok"
    assert rows["bank/stmt_001.sta"]["balance_difference"] == Decimal("0.00")


def test_other_formats_have_their_own_numbering_or_none(night):
    rows = _rows(night)
    camt = rows["bank/camt_oct.xml"]
    assert (camt["bank_format"], camt["sequence_number"], camt["statement_number"]) == (
        "camt.053",
        "7",
        7,
    )
    assert camt["sequence_status"] == "ok"  # the first camt.053 of its account
    csv = rows["bank/generic.csv"]
    assert (csv["bank_format"], csv["sequence_status"], csv["statement_number"]) == (
        "generic_csv",
        "not_checkable",
        None,
    )
    assert len({r["statement_key"] for r in rows.values()}) == len(rows)
