"""The exceptions round trip over two nights: export the worklist, a person fills it in, the
next night applies the decisions (CONTRACT §1 manual decisions, §2 row accounting)."""

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from .conftest import GENERATED_AS_OF, arw, copy_night, night

PERSON = "Erika Muster"
NIGHT_1, NIGHT_2 = GENERATED_AS_OF, "2026-11-01"


def _csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _fill_in(worklist: list[dict], truth: Path) -> dict:
    """What a person does with the worklist, knowing (from the truth) what each payment paid:
    allocate a few exceptions to the invoice they truly pay, mark one not AR, leave one and
    every other row undecided."""
    payments = {p["payment_ref"]: p for p in _csv(truth / "payments.csv")}
    paid: dict[str, list[dict]] = {}
    for a in _csv(truth / "allocations.csv"):
        paid.setdefault(a["payment_ref"], []).append(a)
    by_txn: dict[str, list[dict]] = {}
    for row in worklist:
        by_txn.setdefault(row["transaction_id"], []).append(row)

    allocate, not_ar, undecided = {}, None, None
    for tid, rows in by_txn.items():
        truth_rows = paid.get(rows[0]["bank_reference"], [])
        category = payments.get(rows[0]["bank_reference"], {}).get("category")
        if (len(allocate) < 3 and len(truth_rows) == 1 and truth_rows[0]["fee_amount"] == "0.00"
                and truth_rows[0]["on_account_amount"] == "0.00"):
            right = [r for r in rows if r["invoice_number"] == truth_rows[0]["invoice_number"]
                     and r["amount"] == truth_rows[0]["amount"]]
            if right:  # the candidate that is right, with the amount the worklist suggests
                right[0].update(action="allocate")
                allocate[tid] = (truth_rows[0]["invoice_number"], Decimal(truth_rows[0]["amount"]))
                continue
        if not_ar is None and category == "non_ar":
            rows[0].update(action="not_ar", note="tax refund, not a customer payment")
            not_ar = tid
        elif undecided is None and not truth_rows:
            undecided = tid
    assert len(allocate) == 3 and not_ar and undecided, (allocate, not_ar, undecided)
    for row in worklist:
        if row["action"]:
            row.update(decided_by=PERSON, decided_at="2026-10-31 09:30")
    return {"allocate": allocate, "not_ar": not_ar, "undecided": undecided}


@pytest.fixture(scope="module")
def round_trip(generated_night, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("round_trip")
    first = copy_night(generated_night, base)  # night 1: the shared generated night
    inbox, wh = first["inbox"], first["wh"]

    exported = arw("exceptions", "export", "--warehouse-dir", str(wh), "--output",
                   str(base / "worklist.csv"))
    assert exported.returncode == 0, exported.stderr
    worklist = _csv(base / "worklist.csv")
    decided = _fill_in(worklist, base / "gen" / "truth")
    filled = base / "decisions_2026-10-31.csv"
    with filled.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(worklist[0]))
        writer.writeheader()
        writer.writerows(worklist)
    (inbox / "manual").mkdir(exist_ok=True)
    shutil.copy(filled, inbox / "manual" / filled.name)

    second = night(inbox, wh, NIGHT_2)
    assert second.published, second.summary
    return {"wh": wh, "worklist": worklist, "decided": decided, "stdout": exported.stdout,
            "summary": second.summary}


def _pub(round_trip) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(round_trip["wh"] / "ar.duckdb"), read_only=True)


def test_the_export_says_how_many_exceptions_and_candidate_rows_it_wrote(round_trip):
    worklist = round_trip["worklist"]
    exceptions = len({r["transaction_id"] for r in worklist})
    candidates = sum(1 for r in worklist if r["invoice_number"])
    assert f"Wrote {exceptions:,} open exception(s) with {candidates:,} candidate" in round_trip["stdout"]


def test_decided_exceptions_are_closed_and_the_undecided_one_is_still_open(round_trip):
    decided = round_trip["decided"]
    con = _pub(round_trip)
    open_now = {r[0] for r in con.execute(
        "SELECT transaction_id FROM marts.fct_reconciliation_exceptions").fetchall()}
    status = dict(con.execute("SELECT transaction_id, status FROM marts.fct_bank_receipts").fetchall())
    con.close()
    assert not open_now & {*decided["allocate"], decided["not_ar"]}
    assert decided["undecided"] in open_now
    assert status[decided["not_ar"]] == "not_ar"
    assert all(status[tid] == "matched" for tid in decided["allocate"])


def test_the_allocations_are_the_persons_to_the_cent(round_trip):
    con = _pub(round_trip)
    rows = con.execute(
        "SELECT transaction_id, invoice_number, allocated_amount, decided_by, match_rule "
        "FROM marts.fct_payment_allocations WHERE transaction_id IN (SELECT unnest(?))",
        [list(round_trip["decided"]["allocate"])]).fetchall()
    con.close()
    assert sorted(rows) == sorted((tid, number, amount, PERSON, "manual")
                                  for tid, (number, amount) in round_trip["decided"]["allocate"].items())


def test_every_row_of_the_filled_in_file_is_accounted_for(round_trip):
    worklist = round_trip["worklist"]
    decided_rows = sum(1 for r in worklist if r["action"])
    con = _pub(round_trip)
    files = con.execute("SELECT status, rows_in, rows_loaded, rows_rejected, rows_duplicate "
                        "FROM audit.files WHERE kind = 'manual:decisions'").fetchall()
    reasons = con.execute("SELECT reason FROM audit.rejects WHERE entity = 'manual:decisions'"
                          ).fetchall()
    con.close()
    assert files == [("loaded", len(worklist), decided_rows, len(worklist) - decided_rows, 0)]
    assert decided_rows == 4
    assert len(reasons) == len(worklist) - decided_rows
    assert all(r[0].startswith("manual/decisions_2026-10-31.csv, line ")
               and r[0].endswith(": no decision filled in (action blank)") for r in reasons)
    assert (f"rows in {len(worklist):,} = loaded {decided_rows} + rejected "
            f"{len(worklist) - decided_rows:,}") in round_trip["summary"]
