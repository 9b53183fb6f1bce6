"""Publishing from a copy of the published file: which rows each kind of mart takes over,
and when the copy is not trusted (pipelines/publish.py). The whole path, against a full copy
of the same nights, is tests/e2e/test_incremental_nights.py."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.publish import _apply_appended, _apply_keyed, _Copier, _identity, _why_full_copy
from pipelines.warehouse import AUDIT_DDL

PUBLISHED = date(2026, 10, 30)
NIGHT = date(2026, 10, 31)


@pytest.fixture
def con(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute(AUDIT_DDL)
    con.execute("CREATE SCHEMA marts")
    con.execute(f"ATTACH '{tmp_path / 'pub.duckdb'}' AS pub")
    con.execute("CREATE SCHEMA pub.marts")
    yield con
    con.close()


def _rows(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_an_append_only_mart_takes_rows_recorded_since_and_rows_come_into_force(con):
    # the published night had events 1 and 3 in force; event 2 was recorded then too but
    # takes effect on the night (a later value date), events 4 and 5 were recorded since
    con.execute("CREATE TABLE marts.ledger AS SELECT * FROM (VALUES "
                "(1, DATE '2026-10-01'), (2, DATE '2026-10-31'), (3, DATE '2026-10-02'), "
                "(4, DATE '2026-10-31'), (5, DATE '2026-09-01')) AS t(event_seq, effective_date)")
    con.execute("CREATE TABLE pub.marts.ledger AS SELECT * FROM marts.ledger WHERE event_seq IN (1, 3)")
    how = {"key": "event_seq", "appended_by": "event_seq", "in_force_from": "effective_date"}
    assert _apply_appended(con, _Copier(con, False, ""), "ledger", how, PUBLISHED) == 3
    assert _rows(con, "pub.marts.ledger") == _rows(con, "marts.ledger")


def test_a_keyed_mart_replaces_the_changed_keys_and_moves_the_others_to_the_night(con):
    con.execute("CREATE TABLE marts.inv AS SELECT * FROM (VALUES "
                "(DATE '2026-10-31', 'A', 10, 20), (DATE '2026-10-31', 'B', NULL, 0), "
                "(DATE '2026-10-31', 'C', 5, 1), (DATE '2026-10-31', 'D', 1, 0)) "
                "AS t(as_of_date, invoice_id, days_past_due, amount)")
    # published the night before: A and B unchanged since, C changed, D new, E gone
    con.execute("CREATE TABLE pub.marts.inv AS SELECT * FROM (VALUES "
                "(DATE '2026-10-30', 'A', 9, 20), (DATE '2026-10-30', 'B', NULL, 0), "
                "(DATE '2026-10-30', 'C', 4, 7), (DATE '2026-10-30', 'E', 3, 3)) "
                "AS t(as_of_date, invoice_id, days_past_due, amount)")
    con.execute("INSERT INTO audit.unpublished_keys VALUES ('int_inv', 'C', now()), "
                "('int_inv', 'D', now()), ('int_inv', 'E', now()), ('int_inv', 'C', now()), "
                "('other_model', 'A', now())")
    cutoff = con.execute("SELECT max(logged_at) FROM audit.unpublished_keys").fetchone()[0]
    how = {"key": "invoice_id", "changes_of": "int_inv", "shift_with_as_of": ["as_of_date", "days_past_due"]}
    columns = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_catalog = current_database() AND table_name = 'inv'").fetchall())
    assert _apply_keyed(con, _Copier(con, False, ""), "inv", how, columns, NIGHT, PUBLISHED, cutoff) == 2
    assert _rows(con, "pub.marts.inv") == _rows(con, "marts.inv")
    # a model rebuilt in full since (a NULL key logged): the mart is copied in full instead
    con.execute("INSERT INTO audit.unpublished_keys VALUES ('int_inv', NULL, now())")
    cutoff = con.execute("SELECT max(logged_at) FROM audit.unpublished_keys").fetchone()[0]
    assert _apply_keyed(con, _Copier(con, False, ""), "inv", how, columns, NIGHT, PUBLISHED, cutoff) is None


def test_the_copy_is_trusted_only_when_the_file_is_the_one_last_written(tmp_path: Path):
    target = tmp_path / "ar.duckdb"
    duckdb.connect(str(target)).close()
    settings = "duckdb 2.0.1; masking off"
    state = (PUBLISHED, _identity(target), target.stat().st_size, settings)
    assert _why_full_copy(state, target, NIGHT, settings) is None
    assert _why_full_copy(state, target, PUBLISHED, settings) is None  # the same night again
    assert _why_full_copy(None, target, NIGHT, settings) == "no earlier publish recorded"
    assert "dated before the published one (2026-10-30)" in _why_full_copy(
        state, target, date(2026, 10, 29), settings)
    assert "other settings" in _why_full_copy(state, target, NIGHT, "duckdb 2.0.1; masking 0123")
    assert "grew to over twice" in _why_full_copy(
        (PUBLISHED, _identity(target), target.stat().st_size // 3, settings), target, NIGHT, settings)
    # an analyst opened it read-write and wrote to it
    with duckdb.connect(str(target)) as con:
        con.execute("CREATE TABLE notes AS SELECT 1 AS x")
    assert _why_full_copy(state, target, NIGHT, settings) == \
        "the published file is not the one this pipeline last wrote"
    target.unlink()
    assert _why_full_copy(state, target, NIGHT, settings) == "no published file"


def test_a_publish_that_fails_keeps_the_published_file_and_leaves_no_copy(tmp_path: Path, monkeypatch):
    import pipelines.publish as publish_module
    from pipelines.settings import Settings
    from pipelines.warehouse import connect, ensure_schema

    settings = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    with connect(settings) as con:
        ensure_schema(con)
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.fct_x AS SELECT 1 AS x")
    assert publish_module.publish(settings, "r1", NIGHT).how == "full copy (no earlier publish recorded)"
    before = settings.published_db.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish_module, "_apply_changes", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publish_module.publish(settings, "r2", NIGHT)
    assert settings.published_db.read_bytes() == before
    assert sorted(p.name for p in settings.warehouse_dir.iterdir()) == ["ar.duckdb", "build.duckdb"]
