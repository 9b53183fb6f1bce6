import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from pipelines.ingest.erp import ENTITY_BY_NAME, ingest_entities
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

HEADER = ("invoice_id,invoice_number,order_id,customer_id,salesperson_id,issue_date,due_date,"
          "currency,amount,status,disputed,updated_at\n")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "inbox" / "erp").mkdir(parents=True)
    return Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")


def _ingest(settings: Settings, run_id: str = "r1"):
    with connect(settings) as con:
        ensure_schema(con)
        stats = ingest_entities(con, settings, run_id, (ENTITY_BY_NAME["invoices"],))["invoices"]
        rows = con.execute("SELECT invoice_id, invoice_number, amount, issue_date, _line_number "
                           "FROM raw.erp_invoices ORDER BY _line_number").fetchall()
        rejects = con.execute("SELECT line_number, reason FROM audit.rejects ORDER BY line_number").fetchall()
        files = con.execute("SELECT file_name, status, rows_in, rows_loaded, rows_rejected, reason "
                            "FROM audit.files ORDER BY file_seq").fetchall()
    return stats, rows, rejects, files


def test_good_rows_load_bad_rows_are_rejected_with_file_line_expected_found(settings):
    (settings.inbox / "erp" / "invoices.csv").write_text(
        HEADER
        + "0001,INV-0001,,C1,,2026-01-05,2026-02-04,EUR,100.10,issued,false,\n"
        + "0002,INV-0002,,C1,,2026-02-30,2026-03-01,EUR,50.00,issued,false,\n"
        + "0003,INV-0003,,C1,,2026-01-05,2026-02-04,XXY,1.5,issued,false,\n"
        + "0004,INV-0004,,,,2026-01-05,2026-02-04,EUR,-3,paid,maybe,\n"
        + "0005,INV-0005,,C2,,2026-01-06,2026-02-05,eur,12.345678,issued,,\n",
        encoding="utf-8")
    stats, rows, rejects, files = _ingest(settings)
    assert (stats.rows_in, stats.rows_loaded, stats.rows_rejected) == (5, 2, 3)
    assert stats.rows_in == stats.rows_loaded + stats.rows_rejected
    assert rows == [
        ("0001", "INV-0001", Decimal("100.100000"), pd.Timestamp("2026-01-05").date(), 2),
        ("0005", "INV-0005", Decimal("12.345678"), pd.Timestamp("2026-01-06").date(), 6),
    ]
    by_line = dict(rejects)
    assert by_line[3] == ('erp/invoices.csv, line 3: issue_date: expected a date YYYY-MM-DD, '
                          'found "2026-02-30"')
    assert "currency: expected an ISO 4217 currency code, found \"XXY\"" in by_line[4]
    assert "customer_id: expected a value, found empty" in by_line[5]
    assert "amount: expected an amount greater than 0, found \"-3\"" in by_line[5]
    assert "status: expected one of issued, cancelled, found \"paid\"" in by_line[5]
    assert "disputed: expected true or false, found \"maybe\"" in by_line[5]
    assert files == [("invoices.csv", "loaded", 5, 2, 3, None)]


def test_the_same_file_renamed_is_taken_in_once(settings):
    src = settings.inbox / "erp" / "invoices.csv"
    src.write_text(HEADER + "1,INV-1,,C1,,2026-01-05,2026-02-04,EUR,10,issued,false,\n")
    _ingest(settings, "r1")
    shutil.copy(src, settings.inbox / "erp" / "invoices_copy_2026.csv")
    stats, rows, _, files = _ingest(settings, "r2")
    assert stats.files_skipped == 2 and stats.files_loaded == 0
    assert len(rows) == 1 and len(files) == 1
    with connect(settings) as con:
        sightings = con.execute("SELECT relative_path FROM audit.file_sightings WHERE run_id = 'r2' "
                                "ORDER BY 1").fetchall()
    assert sightings == [("erp/invoices.csv",), ("erp/invoices_copy_2026.csv",)]


@pytest.mark.parametrize(("content", "expected"), [
    (b"invoice_id,amount\n1,2\n", "line 1 (header): expected columns invoice_number, customer_id"),
    (b"", "line 1: expected a header row, found an empty file"),
    (HEADER.encode() + "1,INV-1,,Müller,,2026-01-05,2026-02-04,EUR,10,issued,false,\n".encode("latin-1"),
     "expected UTF-8 text, found byte 0xfc"),
])
def test_unreadable_files_are_quarantined_with_a_reason(settings, content, expected):
    (settings.inbox / "erp" / "invoices_bad.csv").write_bytes(content)
    stats, rows, _, files = _ingest(settings)
    assert stats.files_quarantined == 1 and rows == []
    assert files[0][1] == "quarantined"
    assert files[0][5].startswith("erp/invoices_bad.csv, ")
    assert expected in files[0][5]
    copies = list((settings.warehouse_dir / "quarantine").glob("*invoices_bad.csv*"))
    assert len(copies) == 2  # the copy and its reason
    assert (settings.inbox / "erp" / "invoices_bad.csv").read_bytes() == content  # inbox untouched


def test_parquet_with_the_same_columns_is_accepted(settings):
    frame = pd.DataFrame({
        "invoice_id": ["007"], "invoice_number": ["N-007"], "customer_id": ["C1"],
        "issue_date": ["2026-01-05"], "due_date": ["2026-02-04"], "currency": ["EUR"],
        "amount": ["99.99"], "status": ["issued"]})
    frame.to_parquet(settings.inbox / "erp" / "invoices_2026.parquet")
    stats, rows, _, _ = _ingest(settings)
    assert stats.rows_loaded == 1
    assert rows[0][:3] == ("007", "N-007", Decimal("99.990000"))


def _invoice_file(settings: Settings, name: str, first: int, rows: int) -> None:
    (settings.inbox / "erp" / name).write_text(HEADER + "".join(
        f"{i:04d},INV-{i:04d},,C1,,2026-01-05,2026-02-04,EUR,10,issued,false,\n"
        for i in range(first, first + rows)), encoding="utf-8")


def _crash_at(monkeypatch, name: str):
    from pipelines.ingest import erp

    real = erp.register_file

    def crash(con, f, *args, **kwargs):
        if f.relative_path.endswith(name):
            raise RuntimeError("killed")
        return real(con, f, *args, **kwargs)

    monkeypatch.setattr(erp, "register_file", crash)
    return lambda: monkeypatch.setattr(erp, "register_file", real)


def _committed(settings: Settings) -> list[tuple]:
    with connect(settings) as con:
        return con.execute("SELECT file_name, status FROM audit.files ORDER BY file_seq").fetchall()


def test_a_failure_rolls_back_the_files_of_its_batch_and_the_next_night_reads_them_again(
        settings, monkeypatch):
    """Files commit in batches: a crash while loading the third file loses nothing and
    repeats nothing: the next night takes in all three, each once."""
    for n in range(3):
        _invoice_file(settings, f"invoices_{n}.csv", n * 10, 10)
    restore = _crash_at(monkeypatch, "invoices_2.csv")
    with pytest.raises(RuntimeError, match="killed"):
        _ingest(settings, "r1")
    assert _committed(settings) == []
    with connect(settings) as con:
        assert con.execute("SELECT count(*) FROM raw.erp_invoices").fetchall() == [(0,)]
    restore()
    stats, rows, _, files = _ingest(settings, "r2")
    assert (stats.files_loaded, stats.rows_loaded) == (3, 30)
    assert sorted(r[0] for r in rows) == [f"{i:04d}" for i in range(30)]
    assert [(f[0], f[1], f[2]) for f in files] == [(f"invoices_{n}.csv", "loaded", 10) for n in range(3)]


def test_a_batch_commits_at_its_row_limit(settings, monkeypatch):
    """Batches of 15 rows: files of 10 rows commit two by two; a crash in the fourth file
    rolls back the third with it, and the next night reads those two."""
    from pipelines.ingest import erp

    monkeypatch.setattr(erp, "BATCH_ROWS", 15)
    for n in range(4):
        _invoice_file(settings, f"invoices_{n}.csv", n * 10, 10)
    restore = _crash_at(monkeypatch, "invoices_3.csv")
    with pytest.raises(RuntimeError, match="killed"):
        _ingest(settings, "r1")
    assert _committed(settings) == [("invoices_0.csv", "loaded"), ("invoices_1.csv", "loaded")]
    restore()
    stats, rows, _, _ = _ingest(settings, "r2")
    assert (stats.files_loaded, stats.rows_loaded) == (2, 20)
    assert sorted(r[0] for r in rows) == [f"{i:04d}" for i in range(40)]


def test_the_files_before_a_quarantined_file_commit_before_it_moves(settings, monkeypatch):
    """A quarantined file's registry row cannot wait in a batch that a later failure could
    roll back: the batch before it commits, then the quarantine is recorded."""
    _invoice_file(settings, "invoices_0.csv", 0, 10)
    (settings.inbox / "erp" / "invoices_1.csv").write_text("not,an,invoice,file\n1,2,3,4\n")
    _invoice_file(settings, "invoices_2.csv", 20, 10)
    restore = _crash_at(monkeypatch, "invoices_2.csv")
    with pytest.raises(RuntimeError, match="killed"):
        _ingest(settings, "r1")
    assert _committed(settings) == [("invoices_0.csv", "loaded"), ("invoices_1.csv", "quarantined")]
    restore()
    stats, rows, _, _ = _ingest(settings, "r2")
    assert (stats.files_loaded, stats.rows_loaded) == (1, 10)
    assert sorted(r[0] for r in rows) == [f"{i:04d}" for i in (*range(10), *range(20, 30))]


def test_a_file_unchanged_since_it_was_hashed_is_not_read_again_and_a_rewritten_one_is(settings, monkeypatch):
    import os

    import pipelines.ingest.files as files

    reads: list[str] = []
    real = files.sha256_of
    monkeypatch.setattr(files, "sha256_of", lambda path: reads.append(path.name) or real(path))
    src = settings.inbox / "erp" / "invoices.csv"
    src.write_text(HEADER + "1,INV-1,,C1,,2026-01-05,2026-02-04,EUR,10,issued,false,\n")
    _ingest(settings, "r1")
    assert reads == ["invoices.csv"]
    (settings.inbox / "erp" / "invoices_link.csv").symlink_to(src)  # a second name for it
    stats, *_ = _ingest(settings, "r2")
    assert reads == ["invoices.csv"] and stats.files_skipped == 2  # known by path, size and time
    (settings.inbox / "erp" / "invoices_link.csv").unlink()
    # rewritten in place with other content of the same size: its time changed, it is read
    before = src.stat()
    src.write_text(HEADER + "1,INV-1,,C1,,2026-01-05,2026-02-04,EUR,20,issued,false,\n")
    assert src.stat().st_size == before.st_size
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    stats, rows, _, _ = _ingest(settings, "r3")
    assert reads == ["invoices.csv", "invoices.csv"] and stats.files_loaded == 1
    assert sorted(r[2] for r in rows) == [Decimal("10"), Decimal("20")]
