"""End-to-end helpers: small hand-made inboxes and `arw nightly` as a user runs it."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

CUSTOMERS = """customer_id,name,country,currency,credit_limit,payment_terms_days,salesperson_id,is_key_account,bank_accounts,aliases,updated_at
C001,Alpha GmbH,DE,EUR,10000,30,S1,true,DE89370400440532013000,,
C002,Beta AG,CH,EUR,,30,S2,false,,,
"""
SALESPEOPLE = """salesperson_id,name,team,manager_id
S1,Anna Meier,North,
S2,Ben Okafor,South,S1
"""
INVOICES = """invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,currency,amount,status,disputed,updated_at
1,INV-001,,C001,,2026-08-01,2026-08-31,EUR,100.00,issued,false,
2,INV-002,,C002,,2026-09-15,2026-10-15,EUR,250.50,issued,false,
3,INV-003,,C002,,2026-10-20,2026-11-19,EUR,80.00,issued,true,
"""
BANK = """account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,reference,remittance_info
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,B1,Invoice INV-001
CH9300762011623852957,2026-10-06,2026-10-06,200.00,EUR,Beta AG,,B2,INV-002 part
CH9300762011623852957,2026-10-07,2026-10-07,55.00,EUR,Unknown,,B3,thanks
CH9300762011623852957,2026-10-07,2026-10-07,-20.00,EUR,Supplier,,B4,rent
"""


def write_small_inbox(inbox: Path) -> Path:
    (inbox / "erp").mkdir(parents=True)
    (inbox / "bank").mkdir()
    (inbox / "erp" / "customers.csv").write_text(CUSTOMERS)
    (inbox / "erp" / "salespeople.csv").write_text(SALESPEOPLE)
    (inbox / "erp" / "invoices.csv").write_text(INVOICES)
    (inbox / "bank" / "statement_2026-10.csv").write_text(BANK)
    return inbox


def arw(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `arw` command as a user would (a new process)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=600)


def night(inbox: Path, warehouse_dir: Path, as_of: str):
    """Run a night in this process (the same code path `arw nightly` takes, without start-up)."""
    from datetime import date

    from pipelines.nightly import run_nightly
    from pipelines.settings import Settings

    settings = Settings.from_env().with_overrides(inbox, warehouse_dir)
    return run_nightly(settings, date.fromisoformat(as_of))


def marts_snapshot(db: Path, exclude: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every marts table, all rows sorted, without run ids and record times (and the columns
    named in ``exclude``): for comparing two published warehouses."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "ORDER BY 1").fetchall()]
        snapshot = {}
        for t in tables:
            # which run recorded a ledger event, and when, differ between any two runs
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
                "AND table_name = ? AND column_name NOT IN ('run_id', 'recorded_at') "
                "ORDER BY ordinal_position", [t]).fetchall() if r[0] not in exclude]
            rows = con.execute(f"SELECT {', '.join(columns)} FROM marts.{t}").fetchall()
            snapshot[t] = sorted(rows, key=repr)
        return snapshot
    finally:
        con.close()


@pytest.fixture
def small_inbox(tmp_path: Path) -> Path:
    return write_small_inbox(tmp_path / "inbox")


GENERATED_AS_OF = "2026-10-31"


@pytest.fixture(scope="session")
def generated_night(tmp_path_factory) -> dict:
    """One generated inbox (40 customers, 800 invoices, seed 7) and one `arw nightly` on it as of
    2026-10-31, run as a user runs it (a new process). Shared by every test that only reads
    what the night left (published file, report, build database); a test that runs more
    nights works on a copy (``copy_night``)."""
    base = tmp_path_factory.mktemp("generated")
    gen = arw("generate", "--out", str(base / "gen"), "--customers", "40", "--invoices", "800",
              "--seed", "7")
    assert gen.returncode == 0, gen.stderr
    started = time.monotonic()
    run = arw("nightly", "--inbox", str(base / "gen" / "inbox"), "--warehouse-dir",
              str(base / "wh"), "--as-of", GENERATED_AS_OF)
    assert run.returncode == 0, run.stdout + run.stderr
    return {"gen": base / "gen", "inbox": base / "gen" / "inbox", "wh": base / "wh",
            "stdout": run.stdout, "seconds": time.monotonic() - started}


def copy_night(night: dict, target: Path) -> dict:
    """A private copy of a night's inbox, truth and warehouse, to run further nights on."""
    shutil.copytree(night["gen"], target / "gen")
    shutil.copytree(night["wh"], target / "wh")
    return {**night, "gen": target / "gen", "inbox": target / "gen" / "inbox", "wh": target / "wh"}
