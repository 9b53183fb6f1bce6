"""`arw sql`: read-only queries on the published warehouse.

Values are printed exactly as stored: decimals keep their two decimals, dates are ISO,
nulls are empty. Exports go through DuckDB itself (CSV, JSON lines, Parquet), so types
and money survive the round trip.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.errors import UsageError
from pipelines.settings import Settings
from pipelines.warehouse import duckdb_config


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def run_query(settings: Settings, query: str, fmt: str = "table", output: Path | None = None) -> int:
    if not settings.published_db.exists():
        raise UsageError(f"{settings.published_db}: expected a published warehouse, found none "
                         "(run `arw nightly` first)")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet: expected --output FILE, found none")
    con = duckdb.connect(str(settings.published_db), read_only=True, config=duckdb_config(settings))
    try:
        try:
            relation = con.sql(query)
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {exc}") from exc
        if relation is None:
            return 0
        if fmt == "parquet":
            relation.write_parquet(str(output))
            return 0
        columns = relation.columns
        rows = relation.fetchall()
    finally:
        con.close()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in row] for row in rows)
        text = buffer.getvalue()
    elif fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    else:
        from tabulate import tabulate

        text = tabulate([[_text(v) for v in row] for row in rows], headers=columns,
                        tablefmt="simple", disable_numparse=True) + "\n"
        text += f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
