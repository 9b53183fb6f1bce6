"""The scale generator (``pipelines.synthetic.scale``, behind ``make bench --only scale``): its
inbox loads through the real ingest with zero rejects and the expected row counts, one more
day adds new files only, and the same seed gives the same files."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.bank_files import ingest_bank
from pipelines.ingest.erp import ENTITIES, ingest_entities
from pipelines.settings import Settings
from pipelines.synthetic.scale import generate_scale, write_increment
from pipelines.warehouse import connect, ensure_schema

INVOICES = 3_000
DAY = 400
END = date(2026, 10, 31)
ERP = tuple(e for e in ENTITIES if e.folder == "erp")


def _ingest(settings: Settings, run_id: str) -> dict:
    with connect(settings) as con:
        ensure_schema(con)
        erp = ingest_entities(con, settings, run_id, ERP)
        bank = ingest_bank(con, settings, run_id)
        counts = {table: con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
                  for table in ("erp_invoices", "erp_orders", "erp_customers", "erp_credit_notes",
                                "erp_salespeople", "erp_collection_targets", "erp_fx_rates",
                                "bank_transactions", "bank_statements")}
        rejects = con.execute("SELECT count(*) FROM audit.rejects").fetchone()[0]
        files = con.execute("SELECT status, count(*), sum(rows_duplicate) FROM audit.files "
                            "GROUP BY ALL").fetchall()
        dates = con.execute("SELECT min(effective_date), max(effective_date) FROM raw.bank_transactions "
                            f"WHERE _run_id = '{run_id}'").fetchone()
        open_ids = con.execute("SELECT count(*) - count(DISTINCT invoice_number) FROM raw.erp_invoices"
                               ).fetchone()[0]
    return {"erp": erp, "bank": bank, "counts": counts, "rejects": rejects, "files": files,
            "dates": dates, "duplicate_numbers": open_ids}


@pytest.mark.parametrize("erp_format", ["parquet", "csv"])
def test_the_generated_inbox_loads_with_zero_rejects_and_one_more_day_adds_to_it(tmp_path, erp_format):
    out = tmp_path / "gen"
    summary = generate_scale(out, INVOICES, seed=11, end_date=END, erp_format=erp_format)
    settings = Settings.from_env().with_overrides(out / "inbox", tmp_path / "wh")

    night = _ingest(settings, "r1")
    assert night["rejects"] == 0
    assert night["files"] == [("loaded", summary.erp_files + summary.bank_files, 0)]
    assert night["counts"]["erp_invoices"] == INVOICES
    assert night["counts"]["erp_customers"] == summary.customers
    assert night["counts"]["erp_salespeople"] == summary.salespeople
    assert night["counts"]["erp_orders"] == summary.orders
    assert night["counts"]["erp_credit_notes"] == summary.credit_notes
    assert night["counts"]["bank_transactions"] == summary.bank_transactions
    assert night["counts"]["bank_statements"] == summary.bank_files  # one account per file
    assert 0.8 * INVOICES < summary.bank_transactions < 1.1 * INVOICES  # about one payment each
    assert night["dates"][1] <= END
    assert night["duplicate_numbers"] == 0
    assert all(s.rows_rejected == 0 for s in night["erp"].values())

    day = write_increment(out, INVOICES, seed=11, end_date=END, erp_format=erp_format, day_invoices=DAY)
    second = _ingest(settings, "r2")
    assert second["rejects"] == 0
    assert second["counts"]["erp_invoices"] == INVOICES + DAY
    assert second["counts"]["bank_transactions"] == summary.bank_transactions + day.bank_transactions
    assert 0.5 * DAY < day.bank_transactions < 1.5 * DAY
    assert second["dates"] == (END + timedelta(days=1), END + timedelta(days=1))
    assert second["bank"].files_skipped == summary.bank_files  # the earlier files, already in
    assert dict((s, n) for s, n, _ in second["files"]) == {
        "loaded": summary.erp_files + summary.bank_files + 2 + day.bank_files}
    assert second["duplicate_numbers"] == 0


def _digest(inbox: Path) -> dict[str, str]:
    """Each file's content: CSV bytes, Parquet rows (the writer's row groups may differ)."""
    out = {}
    con = duckdb.connect()
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            rows = con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
            out[path.relative_to(inbox).as_posix()] = hashlib.sha256(repr(rows).encode()).hexdigest()
        else:
            out[path.relative_to(inbox).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path):
    digests = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_scale(tmp_path / name, 800, seed=seed, end_date=END)
        write_increment(tmp_path / name, 800, seed=seed, end_date=END, day_invoices=100)
        digests.append(_digest(tmp_path / name / "inbox"))
    assert digests[0] == digests[1]
    common = set(digests[0]) & set(digests[2])
    assert len(common) > 0.9 * len(digests[0])  # a small month may lack an account's file
    assert all(digests[0][f] != digests[2][f] for f in common)
