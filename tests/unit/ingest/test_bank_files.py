import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.bank_files import ingest_bank
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

GENERIC = """account,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,reference,remittance_info
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,,INV-001
CH9300762011623852957,2026-10-05,2026-10-05,100.00,EUR,Alpha GmbH,DE89370400440532013000,,INV-001
CH9300762011623852957,2026-10-06,2026-10-06,-20.50,EUR,Supplier,,,rent
CH9300762011623852957,2026-10-07,2026-10-07,5.00,HAT,Nobody,,,scrambled currency
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "inbox" / "bank").mkdir(parents=True)
    return Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")


def _run(settings: Settings, run_id: str):
    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_bank(con, settings, run_id)
        totals = con.execute("SELECT count(*), sum(amount) FILTER (WHERE amount > 0), "
                             "sum(amount) FILTER (WHERE amount < 0) FROM raw.bank_transactions"
                             ).fetchall()[0]
        rejects = con.execute("SELECT reason FROM audit.rejects").fetchall()
        files = con.execute("SELECT rows_in, rows_loaded, rows_rejected, rows_duplicate "
                            "FROM audit.files ORDER BY file_seq").fetchall()
    return stats, totals, rejects, files


def test_two_identical_looking_genuine_rows_are_both_kept_and_a_bad_currency_is_rejected(settings):
    (settings.inbox / "bank" / "statement").write_text(GENERIC)  # no extension: found by content
    stats, totals, rejects, files = _run(settings, "r1")
    assert totals == (3, Decimal("200.000000"), Decimal("-20.500000"))
    assert (stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (4, 3, 1)
    assert files == [(4, 3, 1, 0)]
    assert len(rejects) == 1
    reason = rejects[0][0]
    assert "bank/statement" in reason and "line 5" in reason
    assert "expected" in reason and "HAT" in reason


def test_the_same_statement_delivered_100_times_under_other_names_is_stored_once(settings):
    first = settings.inbox / "bank" / "statement_2026-10.csv"
    first.write_text(GENERIC)
    _run(settings, "r1")
    for i in range(100):
        shutil.copy(first, settings.inbox / "bank" / f"copy_{i:03d}.csv")
    stats, totals, _, files = _run(settings, "r2")
    assert stats.files_loaded == 0 and stats.files_skipped == 101
    assert totals == (3, Decimal("200.000000"), Decimal("-20.500000"))
    assert len(files) == 1


def test_an_overlapping_resent_period_adds_only_the_new_transactions(settings):
    (settings.inbox / "bank" / "oct_part.csv").write_text(GENERIC)
    _run(settings, "r1")
    extended = GENERIC + ("CH9300762011623852957,2026-10-08,2026-10-08,42.00,EUR,Beta AG,,,INV-002\n")
    (settings.inbox / "bank" / "oct_full.csv").write_text(extended)
    stats, totals, _, files = _run(settings, "r2")
    assert totals == (4, Decimal("242.000000"), Decimal("-20.500000"))
    assert files[-1] == (5, 1, 1, 3)  # rows in 5 = loaded 1 + rejected 1 + already known 3


def test_an_unreadable_bank_file_is_quarantined_with_its_reason(settings):
    (settings.inbox / "bank" / "broken.xml").write_text(
        '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        "<BkToCstmrStmt><Stmt><Id>1</Id>")
    stats, totals, _, _ = _run(settings, "r1")
    assert stats.files_quarantined == 1 and totals[0] == 0
    with connect(settings) as con:
        status, reason = con.execute("SELECT status, reason FROM audit.files").fetchall()[0]
    assert status == "quarantined"
    assert reason.startswith("bank/broken.xml")
    assert (settings.warehouse_dir / "quarantine").is_dir()
