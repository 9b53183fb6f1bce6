"""A sequence of incremental nights gives the same marts as one full rebuild (CONTRACT §3).

The same generated inbox is delivered two ways: all at once to one night as of the last
date, and bit by bit to a sequence of nights, with one month's bank statement of one account
arriving late (after later months were reconciled), which makes the second night restate.
The ERP extracts arrive in parts too: invoices, orders and credit notes up to August on the
first night and the rest on the second; the first night also receives changed versions of
some invoices and of one customer (a due date moved, a dispute flag, another salesperson),
which the second night's files put back. The incremental models (staging upserts, marts that
recompute only what changed) must end where a full build of the final versions ends.
Every published mart must be equal row for row; only what is by nature a history of the
nights differs: the ledger's events (compared by their sum in force), the aging history
(compared for the last date), and two columns that record the delivery itself: the order
in which files were taken in (``file_seq``) and the night an exception was first seen.
"""

from __future__ import annotations

import csv
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.publish import publish
from pipelines.settings import Settings

from .conftest import GENERATED_AS_OF, marts_snapshot, night

LAST = GENERATED_AS_OF
HISTORY = {"fct_ar_aging_history", "fct_allocation_ledger"}
DELIVERY = ("file_seq", "first_seen_date")


def _copy(files: list[Path], inbox: Path) -> None:
    for f in files:
        target = inbox / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def _deliver_erp_in_parts(source: Path, erp: Path, parted: dict, cut: str):
    """Write the first night's ERP parts now (dated up to `cut`, with changed versions of a
    few invoices and one customer as a later file); return what writes the second night's
    (the rest, and the original versions again as a still later file)."""
    parts: dict[str, tuple[list[str], list[dict], list[dict]]] = {}
    for stem, date_column in parted.items():
        columns, rows = _rows(source / f"{stem}.csv")
        first = [r for r in rows if date_column is None or r[date_column] <= cut]
        parts[stem] = (columns, first, [r for r in rows if r not in first] if date_column else [])
        _write(erp / f"{stem}_1.csv", columns, first)
    columns, invoices, _ = parts["invoices"]
    # invoices of the cut's month: the late July statement stays the earliest change the
    # matcher resumes from
    august = [r for r in invoices if r["issue_date"] >= cut[:8] + "01"]
    originals = august[:: max(1, len(august) // 12)][:12]
    assert len(originals) == 12
    changed = [{**r, "due_date": (date.fromisoformat(r["due_date"]) + timedelta(days=30)).isoformat(),
                "disputed": "true"} for r in originals]
    _write(erp / "invoices_1b.csv", columns, changed)
    columns, customers, _ = parts["customers"]
    salespeople = sorted({c["salesperson_id"] for c in customers})
    customer = customers[0]
    other = next(s for s in salespeople if s != customer["salesperson_id"])
    _write(erp / "customers_1b.csv", columns, [{**customer, "salesperson_id": other,
                                                 "is_key_account": "true"}])

    def later() -> None:
        for stem, (columns, _, rest) in parts.items():
            if rest:
                _write(erp / f"{stem}_2.csv", columns, rest)
        _write(erp / "invoices_2b.csv", parts["invoices"][0], originals)
        _write(erp / "customers_2b.csv", parts["customers"][0], [customer])

    return later


@pytest.fixture(scope="module")
def nights(generated_night, tmp_path_factory) -> dict:
    """The shared generated night is the full rebuild; the same inbox delivered bit by bit
    to two nights is the sequence."""
    root = tmp_path_factory.mktemp("incremental")
    full_inbox = generated_night["inbox"]
    bank = sorted((full_inbox / "bank").iterdir())
    erp = sorted((full_inbox / "erp").iterdir())
    # the late file: one account's July statement, delivered only after August was reconciled
    late = next(f for f in bank if "2026-07" in f.name)
    early = [f for f in bank if f != late and f.stem.rsplit("_", 1)[-1] <= "2026-08"]
    rest = [f for f in bank if f != late and f not in early]
    assert early and rest, "the generated inbox should span months before and after August 2026"

    seq_inbox = root / "seq_inbox"
    (seq_inbox / "manual").mkdir(parents=True)
    parted = {"invoices": "issue_date", "orders": "order_date", "credit_notes": "issue_date",
              "customers": None}
    _copy([f for f in erp if f.stem not in parted] + early, seq_inbox)
    later = _deliver_erp_in_parts(full_inbox / "erp", seq_inbox / "erp", parted, "2026-08-31")
    first = night(seq_inbox, root / "seq_wh", "2026-08-31")
    _copy([late, *rest], seq_inbox)
    later()
    second = night(seq_inbox, root / "seq_wh", LAST)
    assert first.published and second.published, (first.reason, second.reason)
    # the matcher walked again only from the late statement's first day, not all history
    late_day = re.search(r"resumed after (\S+): bank transactions dated (\S+) changed since the night of "
                         r"2026-08-31", second.summary)
    assert late_day and late_day[2].startswith("2026-07"), second.summary
    return {"seq": root / "seq_wh" / "ar.duckdb", "full": generated_night["wh"] / "ar.duckdb"}


def test_every_mart_equals_the_full_rebuild_row_for_row(nights):
    seq, full = marts_snapshot(nights["seq"], DELIVERY), marts_snapshot(nights["full"], DELIVERY)
    assert set(seq) == set(full)
    compared = 0
    for table in sorted(set(full) - HISTORY):
        assert seq[table] == full[table], f"marts.{table} differs between the nights and the rebuild"
        compared += len(full[table])
    assert compared > 1000  # the comparison is over real content, not empty tables


def test_the_aging_history_of_the_last_night_equals_the_rebuild(nights):
    query = "SELECT * EXCLUDE (as_of_date) FROM marts.fct_ar_aging_history WHERE as_of_date = ? ORDER BY ALL"
    rows = {}
    for name in ("seq", "full"):
        with duckdb.connect(str(nights[name]), read_only=True) as con:
            rows[name] = con.execute(query, [LAST]).fetchall()
            nights_kept = con.execute("SELECT count(DISTINCT as_of_date) FROM marts.fct_ar_aging_history").fetchone()[0]
        assert nights_kept == (2 if name == "seq" else 1)  # history grows by one set per night
    assert rows["seq"] and rows["seq"] == rows["full"]


def test_the_late_statement_was_applied_at_its_own_dates_and_the_sum_in_force_is_the_rebuilds(nights):
    query = ("SELECT transaction_id, invoice_id, kind, effective_date, rule, sum(amount) FROM "
             "marts.fct_allocation_ledger GROUP BY ALL HAVING sum(amount) <> 0 ORDER BY ALL")
    with duckdb.connect(str(nights["seq"]), read_only=True) as con:
        in_force_seq = con.execute(query).fetchall()
        # the late July statement's receipts: decided by the second night, dated in July (the
        # other July statements were all decided by the first night)
        late = con.execute("""
            SELECT count(*), min(effective_date), max(effective_date)
            FROM marts.fct_allocation_ledger
            WHERE event_type = 'allocation' AND recorded_as_of_date = ?
              AND effective_date BETWEEN DATE '2026-07-01' AND DATE '2026-07-31'
        """, [LAST]).fetchone()
    with duckdb.connect(str(nights["full"]), read_only=True) as con:
        in_force_full = con.execute(query).fetchall()
    assert in_force_seq == in_force_full
    assert late[0] > 0, "the late July statement was applied at its own dates by the night that received it"


def test_the_second_night_published_incrementally_and_equals_a_full_copy(nights, tmp_path):
    """The second night started from a copy of the first night's file and applied only the
    changed rows; a full copy of the same build database is the same file, table for table,
    the history marts and every column included."""
    seq_wh = nights["seq"].parent
    with duckdb.connect(str(seq_wh / "build.duckdb"), read_only=True) as con:
        how = con.execute("SELECT how FROM audit.published_state").fetchone()[0]
    assert how.startswith("incremental: "), how
    for mart in ("fct_invoices", "fct_order_to_cash", "fct_bank_receipts", "fct_payment_allocations",
                 "fct_allocation_ledger", "fct_ar_aging_history"):
        assert re.search(rf"\b{mart} \+[1-9]", how), how  # rows applied, not copied in full
    assert "differed" not in how
    full_wh = tmp_path / "full"
    full_wh.mkdir()
    shutil.copy(seq_wh / "build.duckdb", full_wh / "build.duckdb")
    published = publish(Settings.from_env().with_overrides(None, full_wh), "full-copy",
                        date.fromisoformat(LAST))
    assert published.how == "full copy (no published file)"
    tables = {}
    for name, path in (("incremental", nights["seq"]), ("full", full_wh / "ar.duckdb")):
        with duckdb.connect(str(path), read_only=True) as con:
            names = [r for r in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                # (not audit.alerts: the night's alerts are recorded after it published)
                "WHERE table_schema = 'marts' OR table_name IN ('files', 'rejects') "
                "ORDER BY ALL").fetchall()]
            tables[name] = {f"{s}.{t}": sorted(con.execute(f"SELECT * FROM {s}.{t}").fetchall(), key=repr)
                            for s, t in names}
    assert tables["incremental"].keys() == tables["full"].keys()
    for table, rows in tables["full"].items():
        assert tables["incremental"][table] == rows, f"{table} differs from a full copy"
    assert len(tables["full"]["marts.fct_invoices"]) >= 500
