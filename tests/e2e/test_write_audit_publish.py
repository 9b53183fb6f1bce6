"""Write-audit-publish and crash safety, through `arw nightly` in its own process."""

import shutil
from decimal import Decimal

import duckdb

from .conftest import arw, marts_snapshot, night, write_small_inbox


def test_failing_blocking_check_keeps_the_published_file_and_exits_1(small_inbox, tmp_path):
    wh = tmp_path / "wh"
    first = night(small_inbox, wh, "2026-10-31")
    assert first.published, first.summary
    published = wh / "ar.duckdb"
    before = published.read_bytes()

    # An analyst holds the published file open, read-only, during the next nights.
    reader = duckdb.connect(str(published), read_only=True)
    try:
        # An invoice due before it was issued parses fine but fails the GX suite (blocking).
        (small_inbox / "erp" / "invoices_2026-11-01.csv").write_text(
            "invoice_id,invoice_number,customer_id,issue_date,due_date,currency,amount,status\n"
            "4,INV-004,C001,2026-11-01,2026-10-01,EUR,40.00,issued\n")
        second = arw("nightly", "--inbox", str(small_inbox), "--warehouse-dir", str(wh),
                     "--as-of", "2026-11-01")
        assert second.returncode == 1, second.stdout + second.stderr
        assert "NOT PUBLISHED" in second.stdout
        assert "gx_raw_erp_invoices" in second.stdout
        assert "expect_column_pair_values_a_to_be_greater_than_b" in second.stdout
        assert published.read_bytes() == before

        # The bad row is still unpublished the night after: still blocked, file unchanged.
        third = night(small_inbox, wh, "2026-11-02")
        assert not third.published
        assert "gx_raw_erp_invoices" in third.reason
        assert published.read_bytes() == before

        # The reader was never blocked and saw the first night throughout.
        total = reader.execute("SELECT sum(open_amount) FROM marts.fct_ar_aging").fetchall()[0][0]
        assert total == Decimal("130.50")
    finally:
        reader.close()

    # The ERP sends the corrected invoice: the night publishes again.
    (small_inbox / "erp" / "invoices_2026-11-03.csv").write_text(
        "invoice_id,invoice_number,customer_id,issue_date,due_date,currency,amount,status,updated_at\n"
        "4,INV-004,C001,2026-11-01,2026-12-01,EUR,40.00,issued,2026-11-03T08:00:00\n")
    fourth = night(small_inbox, wh, "2026-11-03")
    assert fourth.published, fourth.summary
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("SELECT due_date::VARCHAR FROM marts.fct_ar_aging WHERE invoice_id = '4'"
                       ).fetchall() == [("2026-12-01",)]
    runs = con.execute("SELECT status, count(*) FROM audit.runs GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert runs == [("not_published", 2), ("published", 2)]


def test_a_night_killed_half_way_and_run_again_publishes_what_an_undisturbed_night_does(tmp_path):
    inbox_a = write_small_inbox(tmp_path / "a" / "inbox")
    inbox_b = tmp_path / "b" / "inbox"
    shutil.copytree(inbox_a, inbox_b)
    wh_a, wh_b = tmp_path / "a" / "wh", tmp_path / "b" / "wh"

    killed = arw("nightly", "--inbox", str(inbox_a), "--warehouse-dir", str(wh_a),
                 "--as-of", "2026-10-31", env={"ARW_FAULT_INJECT": "reconcile"})
    assert killed.returncode == 137
    assert not (wh_a / "ar.duckdb").exists()

    again = arw("nightly", "--inbox", str(inbox_a), "--warehouse-dir", str(wh_a), "--as-of", "2026-10-31")
    assert again.returncode == 0, again.stdout + again.stderr
    undisturbed = night(inbox_b, wh_b, "2026-10-31")
    assert undisturbed.published

    a, b = marts_snapshot(wh_a / "ar.duckdb"), marts_snapshot(wh_b / "ar.duckdb")
    assert set(a) >= {"dim_customers", "fct_bank_receipts", "fct_payment_allocations", "fct_ar_aging"}
    assert a == b
    assert len(a["fct_payment_allocations"]) == 2
