"""ARW_MASK_PII: the published copy carries pseudonyms for counterparty names, accounts and
remittance texts; the build database keeps the real values; counts and sums do not change."""

import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.publish import PII_COLUMNS, publish
from pipelines.settings import Settings

from .conftest import arw, marts_snapshot

AS_OF = date(2026, 10, 31)
PSEUDONYM = re.compile(r"masked-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def masked(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("mask_pii")
    gen = arw("generate", "--out", str(base / "gen"), "--customers", "40", "--invoices", "800",
              "--seed", "11")
    assert gen.returncode == 0, gen.stderr
    wh = base / "wh"
    run = arw("nightly", "--inbox", str(base / "gen" / "inbox"), "--warehouse-dir", str(wh),
              "--as-of", "2026-10-31", env={"ARW_MASK_PII": "true"})
    assert run.returncode == 0, run.stdout + run.stderr
    settings = Settings.from_env().with_overrides(base / "gen" / "inbox", wh)
    # Published again from the same build database, as the next night would: now with the
    # night's alerts, which quote payers and customers.
    shutil.copy(wh / "ar.duckdb", base / "first.duckdb")
    publish(replace(settings, mask_pii=True), "again", AS_OF)
    # The same build database published without masking, for comparison.
    plain = base / "plain"
    plain.mkdir()
    shutil.copy(wh / "build.duckdb", plain / "build.duckdb")
    publish(replace(settings.with_overrides(None, plain), mask_pii=False), "unmasked", AS_OF)
    return {"wh": wh, "first_db": base / "first.duckdb", "masked_db": wh / "ar.duckdb",
            "plain_db": plain / "ar.duckdb"}


def _tables(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> dict[str, list[tuple[str, str]]]:
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = ? ORDER BY table_name, ordinal_position", [schema]).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    return tables


def _real_names(build_db: Path) -> set[str]:
    con = duckdb.connect(str(build_db), read_only=True)
    names = {r[0] for r in con.execute(
        "SELECT counterparty_name FROM raw.bank_transactions WHERE amount > 0 "
        "UNION SELECT name FROM raw.erp_customers").fetchall() if r[0]}
    con.close()
    return names


def _leaks(db: Path, names: set[str]) -> list[tuple]:
    """Every text value of the published file's marts and audit tables that holds a name."""
    con = duckdb.connect(str(db), read_only=True)
    con.execute("CREATE TEMP TABLE names AS SELECT unnest(?) AS name", [sorted(names)])
    leaks = []
    for schema in ("marts", "audit"):
        for table, columns in _tables(con, schema).items():
            for column, kind in columns:
                if kind != "VARCHAR":
                    continue
                found = con.execute(
                    f'SELECT t."{column}", n.name FROM {schema}.{table} t JOIN temp.names n '
                    f'ON contains(t."{column}", n.name) LIMIT 3').fetchall()
                leaks += [(f"{schema}.{table}.{column}", *f) for f in found]
    con.close()
    return leaks


def test_no_real_counterparty_name_appears_anywhere_in_the_published_marts(masked):
    names = _real_names(masked["wh"] / "build.duckdb")
    assert len(names) > 40
    assert _leaks(masked["masked_db"], names) == []
    # (the same search finds them in the unmasked copy)
    found = {leak[0] for leak in _leaks(masked["plain_db"], names)}
    assert {"marts.fct_bank_receipts.counterparty_name", "marts.dim_customers.name",
            "audit.alerts.body"} <= found
    con = duckdb.connect(str(masked["masked_db"]), read_only=True)
    bodies = {r[0] for r in con.execute("SELECT body FROM audit.alerts").fetchall()}
    con.close()
    assert bodies == {"withheld (ARW_MASK_PII): the alert as delivered has the details"}


def test_every_counterparty_column_holds_pseudonyms_and_the_build_database_the_real_values(masked):
    con = duckdb.connect(str(masked["masked_db"]), read_only=True)
    checked = []
    for table, columns in _tables(con).items():
        for column, _ in columns:
            if column in PII_COLUMNS or (table, column) == ("dim_customers", "name"):
                values = [r[0] for r in con.execute(
                    f'SELECT DISTINCT "{column}" FROM marts.{table} '
                    f'WHERE coalesce("{column}", \'\') <> \'\'').fetchall()]
                assert values and all(PSEUDONYM.fullmatch(v) for v in values), (table, column)
                checked.append(f"{table}.{column}")
    con.close()
    assert {"fct_bank_receipts.counterparty_name", "fct_reconciliation_exceptions.counterparty_name",
            "fct_reconciliation_exceptions.counterparty_account",
            "fct_reconciliation_exceptions.remittance_info", "dim_customers.name",
            "fct_customer_balances.customer_name", "fct_credit_exposure.customer_name"} <= set(checked)
    build = duckdb.connect(str(masked["wh"] / "build.duckdb"), read_only=True)
    real = build.execute("SELECT count(*) FROM marts.fct_bank_receipts "
                         "WHERE counterparty_name LIKE 'masked-%'").fetchall()[0][0]
    build.close()
    assert real == 0


def test_counts_sums_and_groups_are_the_same_as_unmasked(masked):
    con = duckdb.connect()
    con.execute(f"ATTACH '{masked['masked_db']}' AS m (READ_ONLY)")
    con.execute(f"ATTACH '{masked['plain_db']}' AS p (READ_ONLY)")
    tables = {t: cols for t, cols in _tables(con).items()}
    assert len(tables) >= 19
    for table, columns in tables.items():
        masked_cols = [c for c, _ in columns
                       if c in PII_COLUMNS or (table, c) == ("dim_customers", "name")]
        other = ", ".join(f'"{c}"' for c, _ in columns if c not in masked_cols)
        # every row is the same apart from the masked columns
        diff = con.execute(f"SELECT count(*) FROM (SELECT {other} FROM m.marts.{table} "
                           f"EXCEPT ALL SELECT {other} FROM p.marts.{table})").fetchall()[0][0]
        counts = [con.execute(f"SELECT count(*) FROM {db}.marts.{table}").fetchall()[0][0]
                  for db in ("m", "p")]
        assert diff == 0 and counts[0] == counts[1], table
        sums = [c for c, kind in columns if kind.startswith("DECIMAL")]
        if sums:
            select = ", ".join(f'sum("{c}")' for c in sums)
            assert (con.execute(f"SELECT {select} FROM m.marts.{table}").fetchall()
                    == con.execute(f"SELECT {select} FROM p.marts.{table}").fetchall()), table
        for column in masked_cols:  # grouping by the pseudonym gives the same groups
            sizes = [sorted(r[0] for r in con.execute(
                f'SELECT count(*) FROM {db}.marts.{table} GROUP BY "{column}"').fetchall())
                for db in ("m", "p")]
            assert sizes[0] == sizes[1], (table, column)
    con.close()


def test_the_same_value_gets_the_same_pseudonym_in_every_table_and_night(masked):
    con = duckdb.connect(str(masked["masked_db"]), read_only=True)
    receipts = dict(con.execute("SELECT transaction_id, counterparty_name FROM marts.fct_bank_receipts"
                                ).fetchall())
    exceptions = con.execute("SELECT transaction_id, counterparty_name "
                             "FROM marts.fct_reconciliation_exceptions").fetchall()
    customers = dict(con.execute("SELECT customer_id, name FROM marts.dim_customers").fetchall())
    balances = con.execute("SELECT DISTINCT customer_id, customer_name FROM marts.fct_customer_balances"
                           ).fetchall()
    con.close()
    assert exceptions and all(receipts[tid] == name for tid, name in exceptions)
    assert balances and all(customers[cid] == name for cid, name in balances)
    # The night's own publish and the one after it gave the same pseudonyms.
    first, again = (marts_snapshot(masked[db]) for db in ("first_db", "masked_db"))
    assert first == again
    assert len(first["fct_bank_receipts"]) > 100
    assert (masked["wh"] / "pii_salt").stat().st_mode & 0o077 == 0
