"""The README's example queries stay true: each runs against a real night's published file.

Every ```sql block of README.md (and every `arw sql "..."` line of its ```sh blocks) is run
read-only against the warehouse a generated night published. DuckDB binds every table and
column a query names before it runs, so a query that runs names only columns that exist; each
must also return at least one row.
"""

import re
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import PROJECT_DIR

README = PROJECT_DIR / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text(encoding="utf-8"))
            if lang == language]


def _queries() -> list[str]:
    queries = [body.strip() for body in _blocks("sql")]
    for body in _blocks("sh"):
        queries += re.findall(r'arw sql "([^"]+)"', body)
    return queries


def _label(query: str) -> str:
    tables = re.findall(r"\b(?:marts|audit)\.\w+", query)
    return tables[0] if tables else query[:40]


@pytest.fixture(scope="module")
def published(generated_night) -> Path:
    return generated_night["wh"] / "ar.duckdb"


def test_the_readme_has_an_example_for_each_mart_family():
    queries = "\n".join(_queries())
    assert len(_blocks("sql")) >= 6
    for table in ("fct_ar_aging", "dim_salespeople", "fct_collections_vs_target",
                  "fct_credit_exposure", "fct_bank_receipts", "fct_reconciliation_exceptions"):
        assert f"marts.{table}" in queries, table


@pytest.mark.parametrize("query", _queries(), ids=_label)
def test_each_readme_query_runs_and_returns_rows(published, query):
    con = duckdb.connect(str(published), read_only=True)
    try:
        relation = con.sql(query)
        columns, rows = relation.columns, relation.fetchall()
        named = {t.split(".")[1] for t in re.findall(r"\bmarts\.\w+", query)}
        existing = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()}
    finally:
        con.close()
    assert named <= existing
    assert columns and len(set(columns)) == len(columns)
    assert rows, f"no rows: {query}"
