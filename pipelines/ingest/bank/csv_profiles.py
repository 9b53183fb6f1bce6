"""Bank CSV exports read through profiles (YAML), CONTRACT §1 "Other bank CSV layouts".

A profile describes one bank's export layout: encoding, delimiter, separators, date
formats, the header signature that identifies it, the column mapping to the record fields,
preamble metadata, defaults and row rules. The schema is documented in
``pipelines/ingest/bank/profiles/README.md``; the built-in profiles live beside it and users
add their own folders, passed in as ``profile_dirs``; a user profile with the same ``name``
overrides a built-in one. This module reads no environment: the folders named in
``ARW_BANK_PROFILES`` are parsed once, by :meth:`pipelines.settings.Settings.from_env`
(``Settings.bank_profile_dirs``), and the ingest step and ``arw bank parse`` pass them on.

API:

* :func:`load_profiles` — built-in profiles plus those in the given folders, by name.
* :func:`match_profile` — the profile whose header signature fits a header line (or the
  first lines of a file), or ``None``.
* :func:`parse` — bytes → :class:`ParseResult`; ``profile=`` forces a profile by name,
  otherwise it is chosen by header signature; no match → :class:`UnreadableFile` listing
  the available profiles and the header found.

Reading rules:

* lines before the header row are the preamble: ``key;value`` metadata may give the
  account, currency and opening/closing balance (Excel formula values ``="01.07.2023"``
  and ``"=CH12…"`` are unwrapped, in the preamble and in data cells alike);
* blank rows are skipped; every other row after the header is a row in: it becomes a
  loaded or a rejected :class:`Transaction` (rows in = loaded + rejected). Rows at the end
  of the file without a readable date (disclaimers, a totals line) are rejected with
  "not a transaction row (trailer)" and no amount, so they are counted, never summed;
* amounts (padded to the currency's decimals, never rounded): one signed column (``amount``,
  optionally ``amount_sign: inverted``) or
  ``debit``/``credit`` columns (debit is always money out, credit money in, whatever sign
  the bank prints); thousands separators are removed from the integer part and U+FFFD
  (a separator mangled upstream) always is; a ``fee`` column becomes a separate negative
  record and a ``refund`` column a separate negative reversal record (Stripe);
* currency: the row's currency column, else the currency in the header
  (``Amount (EUR)``), else the preamble, else the profile default; it must be ISO 4217
  (historic codes accepted), otherwise the row is rejected
  ("expected ISO 4217 currency code, found 'HAT'");
* transaction_id: ``make_transaction_id(account, reference, n)`` when the profile maps a
  reference column the bank keeps unique (``n`` counts earlier rows with the same
  reference in the file); otherwise the generic CSV rule
  ``make_transaction_id(account, "csv", booking date, n)`` where ``n`` is the row's position
  among the file's rows of that account and booking date (value date when the layout has
  no booking date), counted in the file's order, or from the end of the file for a layout
  marked ``newest_first``. The file's date range and the row's position in the file are
  not part of it, so a re-sent export or a longer one (more days, more rows added to the
  last day) gives the same ids for the same rows, and two identical genuine rows on one
  day keep two ids. Amounts, dates or text alone never make an id. A layout that carries
  no account (and no ``defaults.account``) uses ``<profile>:<currency>`` in its place for
  the id (the record's account stays empty);
* one :class:`Statement` per account in the file. Balance check: the preamble's opening
  and closing balances when the profile maps them; else a running balance column: the
  oldest row's balance minus its amount is the opening and the newest row's balance the
  closing (rows may be newest first or oldest first: the order whose running balances
  chain is used, else the date order); without either → not_checkable.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import UsageError
from pipelines.ingest.bank.common import (
    FieldError,
    collapse_spaces,
    decode_guess,
    decode_text,
    find_structured_reference,
    found,
    normalise_account,
    pad_minor_units,
    parse_amount,
    parse_currency,
    reason,
)
from pipelines.ingest.bank.records import (
    ParseResult,
    Statement,
    Transaction,
    UnreadableFile,
    make_transaction_id,
)

__all__ = [
    "BUILTIN_PROFILE_DIR",
    "Profile",
    "ProfileError",
    "load_profiles",
    "match_profile",
    "parse",
]

FORMAT = "csv_profile"
BUILTIN_PROFILE_DIR = Path(__file__).with_name("profiles")
_HEADER_SCAN_LINES = 60

# Record fields a profile may map, and how several columns for one field combine.
_TEXT_FIELDS = ("counterparty_name", "remittance_info")
_FIRST_FIELDS = (
    "account",
    "currency",
    "reference",
    "counterparty_account",
    "structured_reference",
    "end_to_end_id",
    "return_reason",
)
_DATE_FIELDS = ("booking_date", "value_date")
_AMOUNT_FIELDS = ("amount", "debit", "credit", "balance")
_COLUMN_FIELDS = _TEXT_FIELDS + _FIRST_FIELDS + _DATE_FIELDS + _AMOUNT_FIELDS
_METADATA_FIELDS = ("account", "currency", "opening_balance", "closing_balance")
_PROFILE_KEYS = {
    "name",
    "description",
    "encoding",
    "delimiter",
    "quotechar",
    "decimal_separator",
    "thousands_separators",
    "date_formats",
    "date_format",
    "header",
    "columns",
    "amount_sign",
    "currency_in_header",
    "metadata",
    "defaults",
    "id_from_reference",
    "newest_first",
    "row_rules",
    "fee",
    "refund",
}


class ProfileError(UsageError, ValueError):
    """A profile file (or folder) that cannot be used: named file, key and problem. A
    configuration error, not a bad bank file: ``arw`` exits 2 with it, a night fails."""


@dataclass(frozen=True)
class ColumnSpec:
    """One source column: a header name (``*`` wildcard allowed, case-insensitive), and
    optionally a regex whose first group is taken from the cell."""

    column: str
    pattern: str = ""
    optional: bool = False


@dataclass(frozen=True)
class MetaSpec:
    """A preamble value: by label (``keys``) or by line number, optional regex."""

    keys: tuple[str, ...] = ()
    line: int | None = None
    pattern: str = ""


@dataclass(frozen=True)
class RowRule:
    column: str
    allowed: tuple[str, ...]
    expected: str


@dataclass(frozen=True)
class ExtraRecord:
    column: str
    description: str = ""


@dataclass
class Profile:
    name: str
    header: tuple[str, ...]
    columns: dict[str, tuple[ColumnSpec, ...]]
    description: str = ""
    encoding: str = "auto"
    delimiter: str = ";"
    quotechar: str = '"'
    decimal_separator: str = "."
    thousands_separators: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    amount_sign: str = "as_is"
    currency_in_header: str = ""
    metadata: dict[str, MetaSpec] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    id_from_reference: bool = True
    newest_first: bool = False
    row_rules: tuple[RowRule, ...] = ()
    fee: ExtraRecord | None = None
    refund: ExtraRecord | None = None
    source_path: str = ""

    def matches(self, cells: Sequence[str]) -> bool:
        """True when every header signature pattern fits one of ``cells``."""
        norm = [_norm(c) for c in cells]
        return all(any(_fits(pattern, c) for c in norm) for pattern in self.header)


# ---------------------------------------------------------------------------------------
# Loading profiles
# ---------------------------------------------------------------------------------------


def load_profiles(profile_dirs: Iterable[Path | str] = ()) -> dict[str, Profile]:
    """The built-in profiles plus the ``*.yaml``/``*.yml`` files in ``profile_dirs`` (in
    order; a later profile with the same name overrides an earlier one).

    Raises :class:`ProfileError` for a profile that cannot be used, naming the file.
    """
    profiles: dict[str, Profile] = {}
    for folder in [BUILTIN_PROFILE_DIR, *[Path(d) for d in profile_dirs]]:
        if not folder.is_dir():
            raise ProfileError(f"{folder}: expected a folder of bank CSV profiles, found none")
        files = sorted(list(folder.glob("*.yaml")) + list(folder.glob("*.yml")))
        for path in files:
            profile = _load_profile_file(path)
            profiles[profile.name] = profile
    return profiles


def _load_profile_file(path: Path) -> Profile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: expected a YAML profile, found {err}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a YAML mapping, found {type(raw).__name__}")
    return profile_from_dict(raw, str(path))


def profile_from_dict(raw: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Build and check a :class:`Profile` from its YAML mapping."""

    def fail(key: str, expected: str, got: object) -> ProfileError:
        return ProfileError(f"{source}, key {key!r}: expected {expected}, found {got!r}")

    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise fail(sorted(unknown)[0], f"one of {sorted(_PROFILE_KEYS)}", sorted(unknown)[0])
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise fail("name", "a profile name (letters, digits, _ . -)", name)
    header = raw.get("header")
    if not isinstance(header, list) or not header or not all(isinstance(h, str) for h in header):
        raise fail("header", "a non-empty list of header column names", header)
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise fail("columns", "a mapping of record fields to columns", columns_raw)
    columns: dict[str, tuple[ColumnSpec, ...]] = {}
    for key, spec in columns_raw.items():
        if key not in _COLUMN_FIELDS:
            raise fail(f"columns.{key}", f"one of {list(_COLUMN_FIELDS)}", key)
        items = spec if isinstance(spec, list) else [spec]
        parsed: list[ColumnSpec] = []
        for item in items:
            if isinstance(item, str) and item:
                parsed.append(ColumnSpec(column=item))
            elif isinstance(item, dict) and isinstance(item.get("column"), str):
                extra = set(item) - {"column", "pattern", "optional"}
                if extra:
                    raise fail(f"columns.{key}", "column, pattern, optional", sorted(extra)[0])
                pattern = str(item.get("pattern") or "")
                if pattern:
                    _check_regex(pattern, f"columns.{key}.pattern", fail)
                parsed.append(
                    ColumnSpec(item["column"], pattern, bool(item.get("optional", False)))
                )
            else:
                raise fail(f"columns.{key}", "a column name or {column: …}", item)
        columns[key] = tuple(parsed)
    if not any(k in columns for k in _DATE_FIELDS):
        raise fail("columns", "a booking_date or value_date column", sorted(columns))
    has_amount = "amount" in columns
    has_split = "debit" in columns or "credit" in columns
    if has_amount == has_split:
        raise fail("columns", "either amount, or debit and credit", sorted(columns))
    if has_split and not ("debit" in columns and "credit" in columns):
        raise fail("columns", "both debit and credit", sorted(columns))

    def text(key: str, default: str) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise fail(key, "text", value)
        return value

    def flag(key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise fail(key, "true or false", value)
        return value

    delimiter = text("delimiter", ";")
    if len(delimiter) != 1:
        raise fail("delimiter", "one character (use '\\t' for tab)", delimiter)
    quotechar = text("quotechar", '"')
    if len(quotechar) != 1:
        raise fail("quotechar", "one character", quotechar)
    encoding = text("encoding", "auto")
    if encoding != "auto":
        try:
            "".encode(encoding)
        except LookupError:
            raise fail("encoding", "a Python codec name or 'auto'", encoding) from None
    if "date_formats" in raw:
        formats = raw["date_formats"]
        if not isinstance(formats, list) or not formats:
            raise fail("date_formats", "a list of strptime formats", formats)
    else:
        formats = [text("date_format", "%Y-%m-%d")]
    amount_sign = text("amount_sign", "as_is")
    if amount_sign not in ("as_is", "inverted"):
        raise fail("amount_sign", "as_is or inverted", amount_sign)
    currency_in_header = text("currency_in_header", "")
    if currency_in_header:
        _check_regex(currency_in_header, "currency_in_header", fail)
    metadata: dict[str, MetaSpec] = {}
    for key, spec in (raw.get("metadata") or {}).items():
        if key not in _METADATA_FIELDS or not isinstance(spec, dict):
            raise fail(f"metadata.{key}", f"one of {list(_METADATA_FIELDS)}: {{keys|line}}", spec)
        keys = spec.get("keys", [])
        if isinstance(keys, str):
            keys = [keys]
        line = spec.get("line")
        if line is not None and (not isinstance(line, int) or line < 1):
            raise fail(f"metadata.{key}.line", "a line number from 1", line)
        if not keys and line is None:
            raise fail(f"metadata.{key}", "keys or line", spec)
        pattern = str(spec.get("pattern") or "")
        if pattern:
            _check_regex(pattern, f"metadata.{key}.pattern", fail)
        metadata[key] = MetaSpec(tuple(str(k) for k in keys), line, pattern)
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - {"currency", "account"}:
        raise fail("defaults", "currency and/or account", defaults)
    rules: list[RowRule] = []
    for rule in raw.get("row_rules") or []:
        if not isinstance(rule, dict) or not isinstance(rule.get("column"), str):
            raise fail("row_rules", "{column, allowed, expected}", rule)
        allowed = rule.get("allowed") or []
        if not isinstance(allowed, list) or not allowed:
            raise fail("row_rules.allowed", "a list of allowed values", allowed)
        rules.append(
            RowRule(
                rule["column"],
                tuple(str(a) for a in allowed),
                str(rule.get("expected") or f"{rule['column']} in {allowed}"),
            )
        )
    extras: dict[str, ExtraRecord | None] = {}
    for key in ("fee", "refund"):
        spec = raw.get(key)
        if spec is None:
            extras[key] = None
        elif isinstance(spec, dict) and isinstance(spec.get("column"), str):
            extras[key] = ExtraRecord(spec["column"], str(spec.get("description") or key))
        else:
            raise fail(key, "{column, description}", spec)
    return Profile(
        name=name,
        header=tuple(header),
        columns=columns,
        description=text("description", ""),
        encoding=encoding,
        delimiter=delimiter,
        quotechar=quotechar,
        decimal_separator=text("decimal_separator", "."),
        thousands_separators=text("thousands_separators", ""),
        date_formats=tuple(str(f) for f in formats),
        amount_sign=amount_sign,
        currency_in_header=currency_in_header,
        metadata=metadata,
        defaults={k: str(v) for k, v in defaults.items()},
        id_from_reference=flag("id_from_reference", True),
        newest_first=flag("newest_first", False),
        row_rules=tuple(rules),
        fee=extras["fee"],
        refund=extras["refund"],
        source_path=source,
    )


def _check_regex(pattern: str, key: str, fail: Any) -> None:
    try:
        re.compile(pattern)
    except re.error as err:
        raise fail(key, "a regular expression", f"{pattern} ({err})") from None


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------


def _norm(cell: str) -> str:
    return collapse_spaces(_clean_cell(cell).strip('"')).casefold()


def _fits(pattern: str, normalised_cell: str) -> bool:
    return fnmatch.fnmatchcase(normalised_cell, collapse_spaces(pattern).casefold())


def _split_line(line: str, profile: Profile) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=profile.delimiter, quotechar=profile.quotechar))
    except (csv.Error, StopIteration):
        return []


def _find_header(lines: Sequence[str], profiles: Iterable[Profile]) -> tuple[int, Profile] | None:
    """(line index, profile) of the first header row a profile fits; the profile with the
    longest signature wins when several fit the same row."""
    candidates = list(profiles)
    for index, line in enumerate(lines[:_HEADER_SCAN_LINES]):
        if not line.strip():
            continue
        fitting = [p for p in candidates if p.matches(_split_line(line.lstrip("\ufeff"), p))]
        if fitting:
            fitting.sort(key=lambda p: (-len(p.header), p.name))
            return index, fitting[0]
    return None


def match_profile(
    header_text: str, profiles: Mapping[str, Profile] | None = None
) -> Profile | None:
    """The profile whose header signature fits ``header_text`` (a header line, or the first
    lines of a file including any preamble); built-in profiles unless ``profiles`` given."""
    pool = profiles if profiles is not None else load_profiles()
    hit = _find_header(header_text.splitlines(), pool.values())
    return hit[1] if hit else None


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


def parse(
    data: bytes,
    source_file: str,
    profile: str | None = None,
    profile_dirs: Sequence[Path] = (),
) -> ParseResult:
    """Read a bank CSV export through a profile (forced by name or found by header)."""
    profiles = load_profiles(profile_dirs)
    if profile is not None:
        chosen = profiles.get(profile)
        if chosen is None:
            raise UnreadableFile(
                source_file,
                "profile",
                f"one of the bank CSV profiles {sorted(profiles)}",
                repr(profile),
            )
        text = _decode(data, source_file, chosen)
        lines = text.splitlines(keepends=True)
        hit = _find_header(lines, [chosen])
        if hit is None:
            raise UnreadableFile(
                source_file,
                "header",
                f"a header row with the columns of profile {chosen.name!r} "
                f"({', '.join(chosen.header)})",
                _header_guess(lines),
            )
    else:
        guess_text, _ = decode_guess(data, candidates=("cp1252",))
        guess_lines = guess_text.splitlines(keepends=True)
        hit = _find_header(guess_lines, profiles.values())
        if hit is None:
            raise UnreadableFile(
                source_file,
                "header",
                f"a header row of one of the bank CSV profiles {sorted(profiles)}",
                _header_guess(guess_lines),
            )
        chosen = hit[1]
        text = guess_text if chosen.encoding == "auto" else _decode(data, source_file, chosen)
        lines = text.splitlines(keepends=True)
        hit = _find_header(lines, [chosen])
        if hit is None:  # the profile's own encoding hides the header: say so
            raise UnreadableFile(
                source_file,
                "header",
                f"a header row of profile {chosen.name!r} in {chosen.encoding}",
                _header_guess(lines),
            )
    return _Reader(source_file, chosen, lines, hit[0]).read()


def _decode(data: bytes, source_file: str, profile: Profile) -> str:
    if profile.encoding == "auto":
        return decode_guess(data, candidates=("cp1252",))[0]
    return decode_text(data, source_file, profile.encoding)


def _header_guess(lines: Sequence[str]) -> str:
    """The line that most looks like a header (most cells), quoted, for the reason."""
    best = ""
    best_cells = 0
    for line in lines[:_HEADER_SCAN_LINES]:
        stripped = line.strip().lstrip("\ufeff")
        cells = max(len(stripped.split(sep)) for sep in (";", ",", "\t", "|"))
        if stripped and cells > best_cells:
            best, best_cells = stripped, cells
    if not best:
        return "an empty file"
    return f"header {found(best)}" if len(best) <= 60 else f"header {best[:200]!r}"


def _clean_cell(value: str) -> str:
    """Unwrap Excel formula values: ``="01.07.2023"`` → ``01.07.2023``; ``=Tam`` → ``Tam``."""
    text = value.strip()
    if text.startswith('="') and text.endswith('"') and len(text) >= 3:
        return text[2:-1]
    if text.startswith("=") and len(text) > 1 and not text.startswith("=="):
        return text[1:].strip('"')
    return text


@dataclass
class _Row:
    line: int
    cells: list[str]
    tx: Transaction
    date_problem: bool = False
    date_key: str = ""  # the booking date (ISO) for the transaction_id; raw text if unreadable
    balance: Decimal | None = None
    when: date | None = None
    extras: list[Transaction] = field(default_factory=list)


class _Reader:
    def __init__(self, source_file: str, profile: Profile, lines: list[str], header_index: int):
        self.source_file = source_file
        self.p = profile
        self.lines = lines
        self.header_index = header_index
        self.header = _split_line(lines[header_index].lstrip("\ufeff"), profile)
        self.header_line = header_index + 1
        self.norm_header = [_norm(h) for h in self.header]

    # -- set-up -----------------------------------------------------------------------------

    def _resolve_columns(self) -> dict[str, list[tuple[int, ColumnSpec]]]:
        resolved: dict[str, list[tuple[int, ColumnSpec]]] = {}
        missing: list[str] = []
        for key, specs in self.p.columns.items():
            for spec in specs:
                idx = self._column_index(spec.column)
                if idx is None:
                    if not spec.optional:
                        missing.append(spec.column)
                    continue
                resolved.setdefault(key, []).append((idx, spec))
        for extra in (self.p.fee, self.p.refund):
            if extra and self._column_index(extra.column) is None:
                missing.append(extra.column)
        for rule in self.p.row_rules:
            if self._column_index(rule.column) is None:
                missing.append(rule.column)
        if missing:
            raise UnreadableFile(
                self.source_file,
                f"line {self.header_line} (header)",
                f"the column(s) {', '.join(repr(m) for m in missing)} of profile {self.p.name!r}",
                f"header {self.header!r}",
            )
        return resolved

    def _column_index(self, pattern: str) -> int | None:
        for idx, cell in enumerate(self.norm_header):
            if _fits(pattern, cell):
                return idx
        return None

    def _metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        preamble = self.lines[: self.header_index]
        for key, spec in self.p.metadata.items():
            value = ""
            wanted = {collapse_spaces(k).casefold().rstrip(":") for k in spec.keys}
            for line in preamble:
                cells = _split_line(line, self.p)
                if cells and collapse_spaces(cells[0]).casefold().rstrip(":") in wanted:
                    value = _first_value(cells)
                    break
            if not value and spec.line is not None and spec.line <= len(preamble):
                value = _first_value(_split_line(preamble[spec.line - 1], self.p))
            if value and spec.pattern:
                match = re.search(spec.pattern, value)
                value = (match.group(1) if match.groups() else match.group(0)) if match else ""
            if value:
                out[key] = value.strip()
        return out

    def _header_currency(self) -> str:
        if not self.p.currency_in_header:
            return ""
        regex = re.compile(self.p.currency_in_header)
        for cell in self.header:
            match = regex.search(cell.strip())
            if match:
                return match.group(1) if match.groups() else match.group(0)
        return ""

    # -- reading -----------------------------------------------------------------------------

    def read(self) -> ParseResult:
        cols = self._resolve_columns()
        meta = self._metadata()
        header_ccy = self._header_currency()
        default_ccy = header_ccy or meta.get("currency", "") or self.p.defaults.get("currency", "")
        default_account = meta.get("account", "") or self.p.defaults.get("account", "")
        rows = self._rows(cols, default_ccy, default_account)
        self._mark_trailers(rows)
        result = ParseResult(format=FORMAT)
        self._statements(rows, meta, default_ccy, default_account, result)
        self._assign_ids(rows, default_ccy)
        for row in rows:
            result.transactions.append(row.tx)
            result.transactions.extend(row.extras)
        return result

    def _rows(
        self, cols: dict[str, list[tuple[int, ColumnSpec]]], default_ccy: str, default_acct: str
    ) -> list[_Row]:
        body = "".join(self.lines[self.header_index + 1 :])
        reader = csv.reader(
            io.StringIO(body), delimiter=self.p.delimiter, quotechar=self.p.quotechar
        )
        rows: list[_Row] = []
        consumed = 0
        while True:
            start = self.header_line + consumed + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                consumed = reader.line_num
                tx = Transaction(source_file=self.source_file, location=f"line {start}")
                tx.reject_reason = reason(
                    self.source_file, f"line {start}", "a CSV row", f"a CSV error ({err})"
                )
                rows.append(_Row(start, [], tx))
                continue
            consumed = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            cells = [_clean_cell(c) for c in cells]
            rows.append(self._row(start, cells, cols, default_ccy, default_acct))
        return rows

    def _cell(self, cells: list[str], idx: int, spec: ColumnSpec) -> str:
        value = cells[idx].strip() if idx < len(cells) else ""
        if value and spec.pattern:
            match = re.search(spec.pattern, value)
            value = (match.group(1) if match.groups() else match.group(0)) if match else ""
        return value.strip()

    def _value(self, cells: list[str], cols: dict, key: str) -> tuple[str, str]:
        """(value, column name) for a field: text fields joined, others first non-empty."""
        specs = cols.get(key, [])
        if key in _TEXT_FIELDS:
            parts = [self._cell(cells, idx, spec) for idx, spec in specs]
            return collapse_spaces(" ".join(p for p in parts if p)), ""
        for idx, spec in specs:
            value = self._cell(cells, idx, spec)
            if value:
                return value, self.header[idx]
        name = self.header[specs[0][0]] if specs else key
        return "", name

    def _row(
        self,
        line: int,
        cells: list[str],
        cols: dict[str, list[tuple[int, ColumnSpec]]],
        default_ccy: str,
        default_acct: str,
    ) -> _Row:
        where = f"line {line}"
        tx = Transaction(source_file=self.source_file, location=where)
        row = _Row(line, cells, tx)
        problems: list[str] = []

        def problem(expected: str, got: str, column: str = "") -> None:
            label = f" in {column!r}" if column else ""
            problems.append(reason(self.source_file, where, f"{expected}{label}", got))

        account, _ = self._value(cells, cols, "account")
        tx.account = normalise_account(account or default_acct)
        tx.bank_reference, _ = self._value(cells, cols, "reference")
        tx.counterparty_name, _ = self._value(cells, cols, "counterparty_name")
        cp_account, _ = self._value(cells, cols, "counterparty_account")
        tx.counterparty_account = normalise_account(cp_account)
        tx.remittance_info, _ = self._value(cells, cols, "remittance_info")
        tx.end_to_end_id, _ = self._value(cells, cols, "end_to_end_id")
        tx.return_reason, _ = self._value(cells, cols, "return_reason")
        structured, _ = self._value(cells, cols, "structured_reference")
        tx.structured_reference = find_structured_reference(structured) or (
            "" if "structured_reference" in cols else find_structured_reference(tx.remittance_info)
        )

        # dates
        unread_date = ""
        for key in _DATE_FIELDS:
            if key not in cols:
                continue
            raw, column = self._value(cells, cols, key)
            if not raw:
                continue
            parsed = self._date(raw)
            unread_date = unread_date or ("" if parsed else raw)
            if parsed is None:
                problem(f"a date {self._date_label()}", found(raw), column)
                row.date_problem = True
            else:
                setattr(tx, key, parsed)
        if tx.booking_date is None and tx.value_date is None and not row.date_problem:
            names = [self.header[i] for k in _DATE_FIELDS for i, _ in cols.get(k, [])]
            problem(f"a date {self._date_label()} in {' or '.join(map(repr, names))}", "nothing")
            row.date_problem = True
        row.when = tx.booking_date or tx.value_date
        row.date_key = row.when.isoformat() if row.when else unread_date

        # amount
        try:
            tx.amount = self._amount(cells, cols)
        except FieldError as err:
            problems.append(err.reason_for(self.source_file, where))
        if "balance" in cols:
            raw, column = self._value(cells, cols, "balance")
            if raw:
                try:
                    row.balance = self._decimal(raw)
                except FieldError:
                    row.balance = None

        # currency
        raw_ccy, _ = self._value(cells, cols, "currency")
        raw_ccy = raw_ccy or default_ccy
        try:
            tx.currency = parse_currency(raw_ccy)
        except FieldError as err:
            tx.currency = raw_ccy.strip()
            problems.append(err.reason_for(self.source_file, where))

        # row rules (e.g. Stripe test-mode charges are not money)
        for rule in self.p.row_rules:
            idx = self._column_index(rule.column)
            value = cells[idx].strip() if idx is not None and idx < len(cells) else ""
            if value.casefold() not in {a.casefold() for a in rule.allowed}:
                problems.append(reason(self.source_file, where, rule.expected, found(value)))

        tx.amount = pad_minor_units(tx.amount, tx.currency)
        if problems:
            tx.reject_reason = problems[0]
        elif tx.amount is not None:
            row.extras = self._extra_records(row, cells)
        return row

    def _extra_records(self, row: _Row, cells: list[str]) -> list[Transaction]:
        out: list[Transaction] = []
        for kind, spec in (("fee", self.p.fee), ("refund", self.p.refund)):
            if spec is None:
                continue
            idx = self._column_index(spec.column)
            raw = cells[idx].strip() if idx is not None and idx < len(cells) else ""
            where = f"line {row.line}"
            extra = Transaction(
                source_file=self.source_file,
                location=f"{where} ({spec.column})",
                account=row.tx.account,
                bank_reference=row.tx.bank_reference,
                booking_date=row.tx.booking_date,
                value_date=row.tx.value_date,
                currency=row.tx.currency,
                remittance_info=collapse_spaces(f"{spec.description} {row.tx.bank_reference}"),
            )
            if not raw:
                continue
            try:
                value = self._decimal(raw)
            except FieldError as err:
                extra.reject_reason = err.reason_for(self.source_file, f"{where} ({spec.column})")
                out.append(extra)
                continue
            if value == 0:
                continue
            extra.amount = pad_minor_units(-abs(value), extra.currency)
            if kind == "refund":
                extra.is_reversal = True
                extra.counterparty_name = row.tx.counterparty_name
            out.append(extra)
        return out

    def _date_label(self) -> str:
        return " or ".join(
            f.replace("%Y", "YYYY")
            .replace("%y", "YY")
            .replace("%m", "MM")
            .replace("%d", "DD")
            .replace("%H", "hh")
            .replace("%M", "mm")
            .replace("%S", "ss")
            .replace("%f", "f")
            for f in self.p.date_formats
        )

    def _date(self, raw: str) -> date | None:
        for fmt in self.p.date_formats:
            try:
                return datetime.strptime(raw.strip(), fmt).date()
            except ValueError:
                continue
        return None

    def _decimal(self, raw: str) -> Decimal:
        text = raw.replace("\ufffd", "").replace("\u00a0", "").strip()
        return parse_amount(
            text,
            decimal_sep=self.p.decimal_separator,
            thousands_seps=self.p.thousands_separators,
            expected=f"an amount like -1234{self.p.decimal_separator}56",
        )

    def _amount(self, cells: list[str], cols: dict) -> Decimal:
        if "amount" in cols:
            raw, column = self._value(cells, cols, "amount")
            if not raw:
                raise FieldError(f"an amount in {column!r}", "nothing")
            value = self._decimal(raw)
            return -value if self.p.amount_sign == "inverted" else value
        debit_raw, debit_col = self._value(cells, cols, "debit")
        credit_raw, credit_col = self._value(cells, cols, "credit")
        debit = self._decimal(debit_raw) if debit_raw else None
        credit = self._decimal(credit_raw) if credit_raw else None
        if debit is None and credit is None:
            raise FieldError(f"an amount in {debit_col!r} or {credit_col!r}", "nothing")
        if debit is not None and credit is not None and debit != 0 and credit != 0:
            raise FieldError(
                f"an amount in only one of {debit_col!r} and {credit_col!r}",
                f"{debit_raw!r} and {credit_raw!r}",
            )
        if debit is not None and (credit is None or credit == 0):
            return -abs(debit)
        return abs(credit) if credit is not None else Decimal("0")

    def _mark_trailers(self, rows: list[_Row]) -> None:
        """Rows after the last dated row (disclaimers, totals): counted, never summed."""
        for row in reversed(rows):
            if not row.date_problem:
                break
            original = row.tx.reject_reason
            detail = original.split(": ", 1)[1] if ": " in original else original
            text = collapse_spaces(self.p.delimiter.join(row.cells) if row.cells else "")
            row.tx = Transaction(
                source_file=self.source_file,
                location=row.tx.location,
                remittance_info=text,
                reject_reason=f"{self.source_file}, line {row.line}: "
                f"not a transaction row (trailer): {detail}",
            )
            row.extras = []
            row.when = None
            row.balance = None

    def _statements(
        self,
        rows: list[_Row],
        meta: dict[str, str],
        default_ccy: str,
        default_acct: str,
        result: ParseResult,
    ) -> None:
        groups: dict[str, list[_Row]] = {}
        for row in rows:
            if row.when is None and row.tx.amount is None:
                continue  # trailers and unreadable rows belong to no statement
            groups.setdefault(row.tx.account, []).append(row)
        if not groups:
            groups[normalise_account(default_acct)] = []
        for account, members in groups.items():
            dates = [r.when for r in members if r.when]
            st = Statement(
                account=account,
                source_file=self.source_file,
                from_date=min(dates) if dates else None,
                to_date=max(dates) if dates else None,
            )
            st.statement_id = f"{self.p.name}:{st.from_date or ''}..{st.to_date or ''}"
            currencies = [r.tx.currency for r in members if r.tx.currency]
            st.currency = default_ccy.strip().upper() or (currencies[0] if currencies else "")
            amounts = [r.tx.amount for r in members if r.tx.amount is not None]
            amounts += [e.amount for r in members for e in r.extras if e.amount is not None]
            st.entries_total = sum(amounts, Decimal("0"))
            st.entry_count = len(members) + sum(len(r.extras) for r in members)
            self._balances(st, members, meta, len(groups) == 1)
            st.check_balance()
            result.statements.append(st)
            for r in members:
                r.tx.statement_id = st.statement_id
                for e in r.extras:
                    e.statement_id = st.statement_id
        for row in rows:  # trailers carry the file's statement for lineage
            if not row.tx.statement_id and result.statements:
                row.tx.statement_id = result.statements[0].statement_id

    def _balances(
        self, st: Statement, members: list[_Row], meta: dict[str, str], single: bool
    ) -> None:
        if single and "opening_balance" in meta and "closing_balance" in meta:
            try:
                st.opening_balance = self._decimal(meta["opening_balance"])
                st.closing_balance = self._decimal(meta["closing_balance"])
                return
            except FieldError:
                st.opening_balance = st.closing_balance = None
        chain = [r for r in members if r.balance is not None and r.tx.amount is not None]
        if not chain or len(chain) != len(members):
            return
        net = [r.tx.amount + sum((e.amount or 0) for e in r.extras) for r in chain]
        bal = [r.balance for r in chain]
        ascending = all(bal[i - 1] + net[i] == bal[i] for i in range(1, len(chain)))
        descending = all(bal[i + 1] + net[i] == bal[i] for i in range(len(chain) - 1))
        dates = [r.when for r in chain if r.when is not None]
        dated = len(dates) == len(chain) and dates[0] != dates[-1]
        if ascending and not descending:
            order = "asc"
        elif descending and not ascending:
            order = "desc"
        elif dated and all(a <= b for a, b in zip(dates, dates[1:], strict=False)):
            order = "asc"
        elif dated and all(a >= b for a, b in zip(dates, dates[1:], strict=False)):
            order = "desc"
        elif ascending:
            order = "asc"
        else:
            return  # neither order can be told: not checkable
        if order == "asc":
            st.opening_balance = bal[0] - net[0]
            st.closing_balance = bal[-1]
        else:
            st.opening_balance = bal[-1] - net[-1]
            st.closing_balance = bal[0]

    def _assign_ids(self, rows: list[_Row], default_ccy: str) -> None:
        """transaction_id per row (the module docstring's rule; CONTRACT §1).

        With a reference the bank keeps unique: (account, reference, occurrence). Otherwise
        the generic CSV rule: (account, "csv", booking date, n) where n is the row's position
        among the file's rows of that account and day without a reference, counted in the
        file's order, or from the end of the file for a ``newest_first`` layout, so that
        rows added to the day in a later export come after the ones already known. The
        statement's date range and the row's position in the file are not part of the id:
        a re-sent or longer export gives the same ids for the same rows.
        """
        ref_counts: dict[tuple[str, str], int] = {}
        use_ref = self.p.id_from_reference and "reference" in self.p.columns
        by_day: dict[tuple[str, str], list[Transaction]] = {}
        for row in rows:
            tx = row.tx
            if use_ref and tx.bank_reference:
                key = (tx.account, tx.bank_reference)
                occurrence = ref_counts.get(key, 0)
                ref_counts[key] = occurrence + 1
                tx.transaction_id = make_transaction_id(tx.account, tx.bank_reference, occurrence)
            else:
                by_day.setdefault((self._id_account(tx, default_ccy), row.date_key), []).append(tx)
        for (account, day), members in by_day.items():
            ordered = reversed(members) if self.p.newest_first else members
            for n, tx in enumerate(ordered):
                tx.transaction_id = make_transaction_id(account, "csv", day, n)
        for row in rows:
            for extra in row.extras:
                kind = "refund" if extra.is_reversal else "fee"
                extra.transaction_id = make_transaction_id(row.tx.transaction_id, kind)
                if extra.is_reversal:
                    extra.reversal_of = row.tx.transaction_id

    def _id_account(self, tx: Transaction, default_ccy: str) -> str:
        """The account for the id; a layout that names none (and no ``defaults.account``)
        stands in with profile and currency, so two such banks or currencies never share
        ids. Two accounts of one such bank in one currency cannot be told apart: give each
        its own profile with ``defaults.account``."""
        if tx.account:
            return tx.account
        currency = default_ccy.strip().upper() or tx.currency
        return f"{self.p.name}:{currency}"


def _first_value(cells: list[str]) -> str:
    """The value of a ``key;value`` preamble line (first non-empty cell after the key)."""
    for cell in cells[1:]:
        value = _clean_cell(cell)
        if value:
            return value
    return ""
