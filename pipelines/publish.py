"""Write-audit-publish: the marts go to analysts only after every blocking check passed.

The pipeline writes only its build database. Publishing copies the ``marts`` schema and the
audit tables into a new DuckDB file beside the published one, then replaces the published
file with an atomic rename. A reader that has the old file open keeps reading the old night
in full; a new reader sees the new night in full; nobody waits.
"""


import os
import secrets
from datetime import date, datetime
from pathlib import Path

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
from pipelines.warehouse import connect, scalar

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


def publish(settings: Settings, run_id: str) -> dict:
    """Copy marts and audit tables to a new file and atomically replace the published one.

    With ``settings.mask_pii`` the copy carries pseudonyms for counterparty names, accounts
    and remittance texts (see PII_COLUMNS); the build database keeps the real values.
    """
    target = settings.published_db
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    tmp.unlink(missing_ok=True)
    now = datetime.now()
    mask = settings.mask_pii
    salt = [_pii_salt(settings)] if mask else []
    with connect(settings) as con:
        marts = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_catalog = current_database() "
            "ORDER BY table_name").fetchall()]
        con.execute(f"ATTACH '{tmp}' AS pub")
        try:
            con.execute("CREATE SCHEMA pub.marts")
            con.execute("CREATE SCHEMA pub.audit")
            for schema, tables in (("marts", marts), ("audit", PUBLISHED_AUDIT_TABLES)):
                for table in tables:
                    select = _published_columns(con, schema, table, mask)
                    con.execute(f"CREATE TABLE pub.{schema}.{table} AS SELECT {select} "
                                f"FROM {schema}.{table}", salt if "$1" in select else [])
            con.execute("UPDATE pub.audit.runs SET status = 'published', finished_at = ? "
                        "WHERE run_id = ?", [now, run_id])
            rows = {t: scalar(con, f"SELECT count(*) FROM pub.marts.{t}") for t in marts}
        finally:
            con.execute("DETACH pub")
    _fsync(tmp)
    os.replace(tmp, target)
    _fsync(target.parent)
    with connect(settings) as con:
        con.execute("UPDATE audit.runs SET status = 'published', finished_at = ? WHERE run_id = ?",
                    [now, run_id])
    return rows


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
            rows = publish(settings, context.run.run_id)
            info["note"] = f"{len(rows)} marts"
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
