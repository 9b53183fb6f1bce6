"""Write-audit-publish: the marts go to analysts only after every blocking check passed.

The pipeline writes only its build database. Publishing copies the ``marts`` schema and the
audit tables into a new DuckDB file beside the published one, then replaces the published
file with an atomic rename. A reader that has the old file open keeps reading the old night
in full; a new reader sees the new night in full; nobody waits.
"""


import hashlib
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.automation import nightly_asset_kwargs
from pipelines.progress import stage
from pipelines.resources import WarehouseResource
from pipelines.settings import Settings
from pipelines.transform.dbt import MANIFEST_PATH
from pipelines.warehouse import connect, scalar

log = logging.getLogger(__name__)

PUBLISHED_AUDIT_TABLES = ("files", "rejects", "runs", "alerts")

# ARW_MASK_PII: what names or identifies a counterparty (a payer, a customer) is replaced in
# the published copy by a stable pseudonym: any column of these names in any published table
# (payer names and accounts, remittance texts, which payers fill with names), plus the
# columns below; the alert texts, which quote payers and customers, are withheld.
PII_COLUMNS = frozenset({"counterparty_name", "counterparty_account", "remittance_info",
                         "customer_name"})
PII_TABLE_COLUMNS = frozenset({("marts", "dim_customers", "name"), ("audit", "rejects", "raw_record")})
WITHHELD_WHEN_MASKED = {("audit", "alerts", "body"):
                        "withheld (ARW_MASK_PII): the alert as delivered has the details"}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pii_salt(settings: Settings) -> str:
    """The warehouse's secret salt, created on first use: pseudonyms stay the same night after
    night, and nobody can recompute them from a list of names without the salt file."""
    path = settings.pii_salt_path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(16) + "\n")
    return path.read_text(encoding="utf-8").strip()


def _published_columns(con, schema: str, table: str, mask: bool) -> str:
    """The SELECT list copying a table into the published file; with `mask`, counterparty
    values become 'masked-' + 12 hex digits of SHA-256(salt, value) (parameter 1 is the salt):
    the same value gives the same pseudonym in every table and night, so analysts can still
    group and count. NULL and empty values stay as they are."""
    if not mask:
        return "*"
    names = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()]
    columns = []
    for name in names:
        quoted = f'"{name}"'
        if (schema, table, name) in WITHHELD_WHEN_MASKED:
            text = WITHHELD_WHEN_MASKED[schema, table, name].replace("'", "''")
            columns.append(f"CASE WHEN {quoted} IS NULL THEN NULL ELSE '{text}' END AS {quoted}")
        elif name in PII_COLUMNS or (schema, table, name) in PII_TABLE_COLUMNS:
            columns.append(f"CASE WHEN coalesce({quoted}, '') = '' THEN {quoted} "
                           f"ELSE 'masked-' || left(sha256($1 || {quoted}), 12) END AS {quoted}")
        else:
            columns.append(quoted)
    return ", ".join(columns)


@dataclass(frozen=True)
class Published:
    rows: dict[str, int]  # rows per published mart
    how: str              # "full copy (why)" or "incremental (what)", for the night's summary


def publish(settings: Settings, run_id: str, as_of: date) -> Published:
    """Write the marts and audit tables of the night `as_of` to a new file and atomically
    replace the published one with it.

    The new file is a copy of the published one brought up to date (``_apply_changes``) when
    that file is still exactly the one this build database last published; otherwise every
    table is copied in full. With ``settings.mask_pii`` the copy carries pseudonyms for
    counterparty names, accounts and remittance texts (see PII_COLUMNS); the build database
    keeps the real values.
    """
    target = settings.published_db
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    tmp.unlink(missing_ok=True)
    now = datetime.now()
    mask = settings.mask_pii
    salt = _pii_salt(settings) if mask else ""
    fingerprint = (f"duckdb {duckdb.__version__}; masking "
                   + (hashlib.sha256(salt.encode()).hexdigest()[:16] if mask else "off"))
    with connect(settings) as con:
        marts = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_catalog = current_database() "
            "ORDER BY table_name").fetchall()]
        cutoff = scalar(con, "SELECT max(logged_at) FROM audit.unpublished_keys")
        builds_cutoff = scalar(con, "SELECT max(logged_at) FROM audit.unpublished_builds")
        state = next(iter(con.execute("SELECT as_of_date, file_identity, full_copy_bytes, settings "
                                      "FROM audit.published_state").fetchall()), None)
        why_full = _why_full_copy(state, target, as_of, fingerprint)
        try:  # a failed night leaves no copy behind (at 10M invoices it is 2.6 GB)
            if why_full is None:
                shutil.copyfile(target, tmp)
            con.execute(f"ATTACH '{tmp}' AS pub")
            try:
                copier = _Copier(con, mask, salt)
                if why_full is None:
                    how = "incremental: " + _apply_changes(con, copier, marts, as_of, state[0], cutoff)
                else:
                    how = f"full copy ({why_full})"
                    for schema in ("marts", "audit"):
                        con.execute(f"CREATE SCHEMA pub.{schema}")
                    for table in marts:
                        copier.replace("marts", table)
                for table in PUBLISHED_AUDIT_TABLES:
                    copier.replace("audit", table)
                con.execute("UPDATE pub.audit.runs SET status = 'published', finished_at = ? "
                            "WHERE run_id = ?", [now, run_id])
                rows = {t: scalar(con, f"SELECT count(*) FROM pub.marts.{t}") for t in marts}
            finally:
                con.execute("DETACH pub")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)
    # From here the published file is the new one; if this fails, the stored identity no
    # longer matches it and the next night copies in full.
    full_bytes = target.stat().st_size if why_full is not None else state[2]
    with connect(settings) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM audit.unpublished_keys WHERE logged_at <= ?", [cutoff])
        con.execute("DELETE FROM audit.unpublished_builds WHERE logged_at <= ?", [builds_cutoff])
        con.execute("DELETE FROM audit.published_state")
        con.execute("INSERT INTO audit.published_state VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [run_id, as_of, now, _identity(target), full_bytes, fingerprint, how])
        con.execute("UPDATE audit.runs SET status = 'published', finished_at = ? WHERE run_id = ?",
                    [now, run_id])
        con.execute("COMMIT")
    return Published(rows, how)


def _identity(path: Path) -> str:
    st = path.stat()
    return f"inode {st.st_ino}, {st.st_size} bytes, modified {st.st_mtime_ns} ns"


def _why_full_copy(state, target: Path, as_of: date, fingerprint: str) -> str | None:
    """Why the night cannot start from a copy of the published file (None: it can)."""
    if state is None:
        return "no earlier publish recorded"
    published_as_of, identity, full_bytes, published_with = state
    if not target.exists():
        return "no published file"
    if target.with_name(target.name + ".wal").exists():
        return "the published file has unsaved changes (a .wal file beside it)"
    if _identity(target) != identity:
        return "the published file is not the one this pipeline last wrote"
    if published_with != fingerprint:
        return f"published with other settings ({published_with}; now {fingerprint})"
    if as_of < published_as_of:
        return f"the night is dated before the published one ({published_as_of})"
    if target.stat().st_size > 2 * full_bytes:
        return "the file grew to over twice its size after the last full copy (rewritten compact)"
    return None


class _Copier:
    """Copies rows of a build table into the attached file `pub`, masked when asked."""

    def __init__(self, con, mask: bool, salt: str) -> None:
        self.con, self.mask, self.salt = con, mask, salt

    def _select(self, schema: str, table: str) -> tuple[str, list]:
        select = _published_columns(self.con, schema, table, self.mask)
        return select, ([self.salt] if "$1" in select else [])

    def replace(self, schema: str, table: str) -> None:
        select, params = self._select(schema, table)
        self.con.execute(f"DROP TABLE IF EXISTS pub.{schema}.{table}")
        self.con.execute(f"CREATE TABLE pub.{schema}.{table} AS SELECT {select} FROM {schema}.{table}",
                         params)

    def insert(self, table: str, where: str) -> int:
        """Append the build rows of `table` matching `where` (SQL without placeholders: the
        masked select list owns $1); the number of rows appended."""
        select, salt = self._select("marts", table)
        return self.con.execute(f"INSERT INTO pub.marts.{table} SELECT {select} FROM marts.{table} "
                                f"WHERE {where}", salt).fetchall()[0][0]


def _publish_meta() -> dict[str, dict]:
    """The `publish` meta of the marts (in dbt_project/models/marts/**/_*.yml): how a mart is
    brought up to date in a copy of the published file. A mart without it is copied in full."""
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return {node["name"]: node["config"]["meta"]["publish"] for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and "publish" in node["config"].get("meta", {})}


def _columns(con, catalog: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = ? "
        "AND table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
        [catalog, table]).fetchall()


def _apply_changes(con, copier: _Copier, marts: list[str], as_of: date, published_as_of: date,
                   cutoff) -> str:
    """Bring the copy of the published file (`pub`) up to the build's marts: a mart with
    `publish` meta gets only the rows that changed since the last publish, every other mart is
    copied in full. Each mart brought up to date must then have the build's row count, or it
    is copied in full after all (and the summary says so). Returns what was done."""
    meta = _publish_meta()
    build = scalar(con, "SELECT current_database()")
    published = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = 'pub' AND table_schema = 'marts'").fetchall()}
    for gone in sorted(published - set(marts)):
        con.execute(f"DROP TABLE pub.marts.{gone}")
    applied, copied = [], 0
    for table in marts:
        how = meta.get(table)
        columns = _columns(con, build, table)
        changed = None
        if how is not None and table in published and columns == _columns(con, "pub", table):
            if "changes_of" in how:
                changed = _apply_keyed(con, copier, table, how, dict(columns), as_of,
                                       published_as_of, cutoff)
            else:
                changed = _apply_appended(con, copier, table, how, published_as_of)
        if changed is not None and scalar(con, f"SELECT count(*) FROM pub.marts.{table}") != scalar(
                con, f"SELECT count(*) FROM marts.{table}"):
            log.warning("publish: %s brought up to date has another row count than the build; "
                        "copied in full", table)
            applied.append(f"{table} differed, copied in full")
            changed = None
        if changed is None:
            copier.replace("marts", table)
            copied += 1
        else:
            applied.append(f"{table} +{changed:,}")
    return f"{copied} marts copied in full, changed rows applied to " + ", ".join(applied)


def _apply_keyed(con, copier: _Copier, table: str, how: dict, columns: dict[str, str],
                 as_of: date, published_as_of: date, cutoff) -> int | None:
    """A mart whose rows follow the keys a keyed incremental model recomputed (`changes_of`,
    logged in audit.unpublished_keys): delete those keys' rows, move the other rows' as-of date
    and day counts up to it by the days since the published night (`shift_with_as_of`), append
    the keys' rows from the build.
    None when the model recomputed every row since the last publish."""
    logged = ("FROM audit.unpublished_keys WHERE model = ? AND logged_at <= ?",
              [how["changes_of"], cutoff])
    if scalar(con, f"SELECT bool_or(key IS NULL) {logged[0]}", logged[1]):
        return None
    key = how["key"]
    con.execute(f"CREATE OR REPLACE TEMP TABLE publish_keys AS SELECT DISTINCT "
                f"CAST(key AS {columns[key]}) AS key {logged[0]}", logged[1])
    con.execute(f"DELETE FROM pub.marts.{table} WHERE {key} IN (SELECT key FROM publish_keys)")
    days = (as_of - published_as_of).days
    moves = [f"{c} = {c} + {days}" for c in how.get("shift_with_as_of", [])]
    if days and moves:
        con.execute(f"UPDATE pub.marts.{table} SET {', '.join(moves)}")
    return copier.insert(table, f"{key} IN (SELECT key FROM publish_keys)")


def _apply_appended(con, copier: _Copier, table: str, how: dict, published_as_of: date) -> int:
    """An append-only mart (a row never changes once written; it enters the mart when recorded
    or when it comes into force): append the rows recorded after the last published one
    (`appended_by`) and those in force from a date after the published night (`in_force_from`)."""
    seq, since = how["appended_by"], how["in_force_from"]
    con.execute(f"CREATE OR REPLACE TEMP TABLE publish_last AS SELECT max({seq}) AS last "
                f"FROM pub.marts.{table}")
    return copier.insert(table, f"({seq} > (SELECT last FROM publish_last) "
                                f"OR (SELECT last FROM publish_last) IS NULL "
                                f"OR {since} > DATE '{published_as_of}')")


def build_publish_asset(mart_keys: list[AssetKey], partitions: PartitionsDefinition):
    @asset(
        key=["published", "ar_warehouse"],
        deps=mart_keys,
        **nightly_asset_kwargs(partitions),
        group_name="publish",
        kinds={"duckdb"},
        description="The published warehouse file (ar.duckdb): the marts and the audit tables, "
        "replaced atomically once every blocking check of the night passed.",
    )
    def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource):
        warehouse.fault_point("publish")
        settings = warehouse.settings()
        as_of = date.fromisoformat(context.partition_key)
        with stage("publish") as info:
            published = publish(settings, context.run.run_id, as_of)
            rows = published.rows
            info["note"] = f"{len(rows)} marts; {published.how}"
        context.log.info("published %s (%s)", settings.published_db, as_of)
        # The HTML report is a by-product: if it fails, the night stays published.
        with stage("report") as info:
            try:
                from pipelines.report import write_report

                report = {"report": str(write_report(settings.published_db, settings.report_html,
                                                     as_of))}
                info["note"] = str(settings.report_html)
            except Exception as exc:
                report = {"report_error": f"{type(exc).__name__}: {exc}"}
                info["note"] = f"not written (the night stays published): {report['report_error']}"
                context.log.warning("report %s not written: %s", settings.report_html,
                                    report["report_error"])
        return MaterializeResult(metadata={"path": str(settings.published_db), **report,
                                           **{f"rows_{k}": v for k, v in rows.items()}})

    return published_warehouse
