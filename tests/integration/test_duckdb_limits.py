"""ARW_DUCKDB_THREADS and ARW_DUCKDB_MEMORY_LIMIT reach the DuckDB connections: the pipeline's
own (`warehouse.connect`: ingest, reconcile, checks, publish), dbt's (profiles.yml), `arw sql`'s and
the read-only ones (`warehouse.open_read_only`: report, exceptions export, summary, docs)."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from pipelines.query import run_query
from pipelines.settings import Settings
from pipelines.transform.dbt import run_dbt
from pipelines.warehouse import connect, open_read_only

THREADS, MEMORY = 1, "1500MB"
SQL = "select current_setting('threads') as t, current_setting('memory_limit') as m"


def _expected() -> tuple:
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY})
    return con.execute(SQL).fetchone()


def test_the_limits_reach_the_pipelines_dbts_and_the_query_commands_connections(tmp_path, monkeypatch):
    monkeypatch.setenv("ARW_DUCKDB_THREADS", str(THREADS))
    monkeypatch.setenv("ARW_DUCKDB_MEMORY_LIMIT", MEMORY)
    settings = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    assert (settings.duckdb_threads, settings.duckdb_memory_limit) == (THREADS, MEMORY)
    expected = _expected()
    assert expected[0] == THREADS and expected[1] != duckdb.connect().execute(SQL).fetchone()[1]

    with connect(settings) as con:
        assert con.execute(SQL).fetchone() == expected

    assert _dbt_limits(settings) == expected

    out = tmp_path / "limits.csv"
    duckdb.connect(str(settings.published_db)).close()  # an (empty) published file to query
    run_query(settings, SQL, fmt="csv", output=out)
    assert out.read_text().splitlines()[1] == f"{expected[0]},{expected[1]}"

    # the report, the worklist export, the summary, the docs and the evaluation read files
    # through open_read_only: with the settings given, or those of the environment
    for con in (open_read_only(settings.published_db, settings), open_read_only(settings.published_db)):
        assert con.execute(SQL).fetchone() == expected
        con.close()


def _dbt_limits(settings: Settings) -> tuple:
    result = run_dbt(settings, ["show", "--inline", SQL])
    assert result.success, result.exception
    row = result.result.results[0].agate_table.rows[0]
    return int(row[0]), row[1]


def test_dbt_splits_the_threads_between_the_models_it_builds_at_once(tmp_path):
    """Four threads, dbt building two models at once: each model's queries get two."""
    base = Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh")
    settings = replace(base, duckdb_threads=4, dbt_threads=2, duckdb_memory_limit="3GB")
    assert settings.dbt_duckdb_threads == 2
    assert _dbt_limits(settings)[0] == 2
    assert replace(settings, dbt_threads=3).dbt_duckdb_threads == 1
    assert replace(settings, dbt_threads=1).dbt_duckdb_threads == 4


def test_other_limits_are_honoured_too(tmp_path):
    settings = replace(Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh"),
                       duckdb_threads=2, duckdb_memory_limit="3GB")
    with connect(settings) as con:
        threads, memory = con.execute(SQL).fetchone()
    assert threads == 2 and memory == duckdb.connect(config={"memory_limit": "3GB"}).execute(SQL).fetchone()[1]
