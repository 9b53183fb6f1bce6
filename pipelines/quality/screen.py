"""A suite's expectations evaluated in DuckDB SQL first: Great Expectations only where needed.

GX validates pandas DataFrames: at a million rows reading the frame and validating it take
tens of seconds, while the same expectations in SQL take well under a second (and a night's
checks must stay under 10% of the night). So each suite is first *screened* in SQL on the
same rows: every expectation becomes a count of the rows that violate it, written to be at
least as strict as GX (a NULL that GX might count is counted). When every expectation of
the suite is translated and none is violated, the suite has passed. Otherwise — an
expectation type or argument not translated here, a violation, a column that does not
exist — GX validates the suite as before, and its verdict, counts, samples and lineage are
what the check reports. The suites stay the one specification; SQL only spares GX the
passing majority.

Translated (GX 1.x semantics for the pandas data source; NULLs are ignored unless stated):
``expect_column_values_to_not_be_null`` (NULL, and NaN for floating columns),
``expect_column_values_to_be_unique``, ``expect_compound_columns_to_be_unique`` (rows
where every column is missing are ignored, NULLs compare equal),
``expect_column_values_to_be_between`` (``min_value``, ``max_value``, ``strict_min``,
``strict_max``; date bounds for date columns), ``expect_column_values_to_be_in_set``,
``expect_column_values_to_not_be_in_set``, ``expect_column_values_to_match_regex`` (text
columns; RE2, whose ``$`` is stricter than Python's),
``expect_column_pair_values_a_to_be_greater_than_b`` (``or_equal``, ``ignore_row_if``),
``expect_column_unique_value_count_to_be_between``; and ``row_condition`` of the form
``column == "text"`` or ``column != "text"`` (pandas parser). Anything else goes to GX.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")
_FLOATING = ("FLOAT", "DOUBLE", "REAL")
_CONDITION = re.compile(r'^\s*(\w+)\s*(==|!=)\s*"([^"\\]*)"\s*$')
_COMMON_KWARGS = {"batch_id"}


class NotTranslated(Exception):
    """This expectation is left to GX."""


@dataclass(frozen=True)
class ScreenResult:
    rows: int
    violations: dict[int, int]  # expectation index → violating rows (or 1 for a failed aggregate)
    seconds: float

    @property
    def passed(self) -> bool:
        return not any(self.violations.values())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object, column_type: str) -> str:
    """A bound or set member as an SQL literal of the column's kind."""
    base = column_type.upper()
    if isinstance(value, bool):
        raise NotTranslated("boolean literal")
    if base.startswith("DECIMAL") or base in _NUMERIC:
        if not isinstance(value, (int, float)):
            raise NotTranslated("a non-number for a number column")
        return repr(value)
    if base == "DATE" or base.startswith("TIMESTAMP"):
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise NotTranslated("a date bound that is not YYYY-MM-DD")
        return f"DATE '{value}'"
    if base == "VARCHAR":
        if not isinstance(value, str):
            raise NotTranslated("a non-text member for a text column")
        return "'" + value.replace("'", "''") + "'"
    raise NotTranslated(f"column type {column_type}")


def _only(kwargs: Mapping, allowed: set[str]) -> None:
    extra = set(kwargs) - allowed - _COMMON_KWARGS
    if extra:
        raise NotTranslated(f"arguments {sorted(extra)}")


def _condition(kwargs: Mapping, columns: Mapping[str, str]) -> str:
    """The row_condition as SQL (rows GX keeps), or TRUE."""
    text = kwargs.get("row_condition")
    if text is None:
        return "TRUE"
    if kwargs.get("condition_parser") != "pandas":
        raise NotTranslated("condition parser")
    match = _CONDITION.match(text)
    if not match or match.group(1) not in columns or columns[match.group(1)].upper() != "VARCHAR":
        raise NotTranslated("row condition")
    column, op, value = match.groups()
    literal = "'" + value.replace("'", "''") + "'"
    # pandas: NaN == "x" is False, NaN != "x" is True
    return f"{_quote(column)} = {literal}" if op == "==" else f"{_quote(column)} IS DISTINCT FROM {literal}"


def violation_sql(expectation: Mapping, columns: Mapping[str, str]) -> tuple[str, bool]:
    """(SQL, is_row_filter): a boolean expression true for a violating row, or (when not a row
    filter) an aggregate expression over the rows that is 1 when the expectation fails."""
    kind = expectation["type"]
    kwargs = dict(expectation.get("kwargs", {}))
    condition = _condition(kwargs, columns)
    kwargs.pop("row_condition", None)
    kwargs.pop("condition_parser", None)
    names = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    names += list(kwargs.get("column_list") or [])
    for name in names:
        if not isinstance(name, str) or name not in columns:
            raise NotTranslated(f"column {name!r}")
    col = _quote(kwargs["column"]) if "column" in kwargs else ""
    ctype = columns.get(kwargs.get("column", ""), "").upper()

    if kind == "expect_column_values_to_not_be_null":
        _only(kwargs, {"column"})
        nan = f" OR isnan({col})" if ctype in _FLOATING else ""
        return f"({condition}) AND ({col} IS NULL{nan})", True
    if kind == "expect_column_values_to_be_between":
        _only(kwargs, {"column", "min_value", "max_value", "strict_min", "strict_max"})
        parts = []
        if kwargs.get("min_value") is not None:
            op = "<=" if kwargs.get("strict_min") else "<"
            parts.append(f"{col} {op} {_literal(kwargs['min_value'], ctype)}")
        if kwargs.get("max_value") is not None:
            op = ">=" if kwargs.get("strict_max") else ">"
            parts.append(f"{col} {op} {_literal(kwargs['max_value'], ctype)}")
        if not parts:
            raise NotTranslated("no bounds")
        nan = f" OR isnan({col})" if ctype in _FLOATING else ""
        return f"({condition}) AND {col} IS NOT NULL AND ({' OR '.join(parts)}{nan})", True
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        _only(kwargs, {"column", "value_set"})
        values = kwargs.get("value_set")
        if not isinstance(values, list) or not values:
            raise NotTranslated("value_set")
        members = ", ".join(_literal(v, ctype) for v in values)
        negate = "" if kind == "expect_column_values_to_not_be_in_set" else "NOT "
        return f"({condition}) AND {col} IS NOT NULL AND {negate}({col} IN ({members}))", True
    if kind == "expect_column_values_to_match_regex":
        _only(kwargs, {"column", "regex"})
        if ctype != "VARCHAR" or not isinstance(kwargs.get("regex"), str):
            raise NotTranslated("regex on a non-text column")
        pattern = "'" + kwargs["regex"].replace("'", "''") + "'"
        return f"({condition}) AND {col} IS NOT NULL AND NOT regexp_matches({col}, {pattern})", True
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        _only(kwargs, {"column_A", "column_B", "or_equal", "ignore_row_if"})
        a, b = _quote(kwargs["column_A"]), _quote(kwargs["column_B"])
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        skip = {"both_values_are_missing": f"({a} IS NULL AND {b} IS NULL)",
                "either_value_is_missing": f"({a} IS NULL OR {b} IS NULL)",
                "neither": "FALSE"}.get(ignore)
        if skip is None:
            raise NotTranslated("ignore_row_if")
        op = ">=" if kwargs.get("or_equal") else ">"
        return f"({condition}) AND NOT {skip} AND NOT coalesce({a} {op} {b}, false)", True
    if kind == "expect_column_values_to_be_unique":
        _only(kwargs, {"column"})
        if condition != "TRUE":
            raise NotTranslated("row condition on uniqueness")
        return f"CASE WHEN count({col}) > count(DISTINCT {col}) THEN 1 ELSE 0 END", False
    if kind == "expect_column_unique_value_count_to_be_between":
        _only(kwargs, {"column", "min_value", "max_value"})
        if condition != "TRUE":
            raise NotTranslated("row condition on a count")
        checks = []
        for key, op in (("min_value", "<"), ("max_value", ">")):
            value = kwargs.get(key)
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise NotTranslated(key)
                checks.append(f"count(DISTINCT {col}) {op} {value}")
        return (f"CASE WHEN {' OR '.join(checks)} THEN 1 ELSE 0 END" if checks else "0"), False
    if kind == "expect_compound_columns_to_be_unique":
        _only(kwargs, {"column_list", "ignore_row_if"})
        if condition != "TRUE" or kwargs.get("ignore_row_if", "all_values_are_missing") != "all_values_are_missing":
            raise NotTranslated("compound uniqueness options")
        return "compound", False
    raise NotTranslated(kind)


def screen(con: duckdb.DuckDBPyConnection, rows_sql: str, expectations: Sequence[Mapping],
           columns: Mapping[str, str]) -> ScreenResult | None:
    """Evaluate every expectation on the rows of ``rows_sql`` (which selects the named
    columns); None when any is not translated (GX must validate the suite)."""
    started = time.monotonic()
    try:
        translated = [violation_sql(e, columns) for e in expectations]
    except (NotTranslated, KeyError, TypeError):
        return None
    selects = ["count(*)"]
    compound: dict[int, list[str]] = {}
    for i, (sql, row_filter) in enumerate(translated):
        if sql == "compound":
            compound[i] = list(expectations[i]["kwargs"]["column_list"])
            selects.append("0")
        elif row_filter:
            selects.append(f"count(*) FILTER (WHERE {sql})")
        else:
            selects.append(sql)
    try:
        counts = con.execute(f"WITH _rows AS ({rows_sql}) SELECT {', '.join(selects)} FROM _rows").fetchone()
        violations = {i: int(n) for i, n in enumerate(counts[1:])}
        for i, cols in compound.items():
            quoted = ", ".join(_quote(c) for c in cols)
            all_missing = " AND ".join(f"{_quote(c)} IS NULL" for c in cols)
            violations[i] = int(con.execute(
                f"WITH _rows AS ({rows_sql}) SELECT count(*) FROM (SELECT {quoted} FROM _rows "
                f"WHERE NOT ({all_missing}) GROUP BY ALL HAVING count(*) > 1)").fetchone()[0])
    except duckdb.Error:
        return None
    return ScreenResult(rows=int(counts[0]), violations=violations, seconds=time.monotonic() - started)
