"""Read any bank file: detect its format from the content, then call that format's reader.

Readers are imported lazily, so this module works before every reader exists: a missing one
gives :class:`UnreadableFile` ("reader for <format> not available") for files in that
format only.

Every reader module exposes ``parse(data: bytes, source_file: str) -> ParseResult``;
``csv_profiles.parse`` also takes ``profile=None, profile_dirs=()``.

``parse_file(path, source_file="bank/x.xml")`` streams camt from disk and names the file
as the caller says (the ingest step passes the inbox-relative path, so reasons and lineage
read ``bank/<file>``). A CSV that is not the generic layout and fits no bank profile, but
has most of the generic columns, gets the generic reader's reason (which column is missing).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from pipelines.ingest.bank.detect import HEAD_BYTES, detect_format
from pipelines.ingest.bank.records import ParseResult, UnreadableFile

__all__ = ["READERS", "parse_bytes", "parse_file"]

# format name → reader module (under pipelines.ingest.bank)
READERS: dict[str, str] = {
    "camt.052": "camt",
    "camt.053": "camt",
    "camt.054": "camt",
    "mt940": "mt940",
    "mt942": "mt940",
    "bai2": "bai2",
    "ofx": "ofx",
    "generic_csv": "generic_csv",
    "csv_profile": "csv_profiles",
}

_CSV_FORMATS = ("generic_csv", "csv_profile")


def _reader(fmt: str, source_file: str) -> ModuleType:
    name = f"pipelines.ingest.bank.{READERS[fmt]}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:  # the reader exists but something it needs does not
            raise UnreadableFile(
                source_file,
                "file",
                f"a working reader for {fmt}",
                f"reader for {fmt} not available ({err})",
            ) from err
        raise UnreadableFile(
            source_file,
            "file",
            f"a reader for {fmt}",
            f"reader for {fmt} not available (module {name} is not installed)",
        ) from None


def _choose(fmt: str, profile: str | None) -> str:
    # A named profile is for CSV layouts: it turns a CSV file into a profile read. Other
    # formats (XML, SWIFT, BAI2, OFX) carry their own layout, so the profile does not apply.
    if profile and fmt in _CSV_FORMATS:
        return "csv_profile"
    return fmt


def parse_bytes(
    data: bytes,
    source_file: str,
    profile: str | None = None,
    profile_dirs: Sequence[Path] = (),
) -> ParseResult:
    """Detect the format of ``data`` and read it. Raises :class:`UnreadableFile`."""
    fmt = _choose(detect_format(data, source_file), profile)
    reader = _reader(fmt, source_file)
    if fmt == "csv_profile":
        try:
            result = reader.parse(data, source_file, profile=profile, profile_dirs=profile_dirs)
        except UnreadableFile as err:
            if profile is None and _near_generic(data):
                # most of the generic header is there: say which of its columns are missing
                # rather than list every bank profile
                _reader("generic_csv", source_file).parse(data, source_file)
            raise err from None
    else:
        result = reader.parse(data, source_file)
    return _finish(result, fmt, source_file)


def _near_generic(data: bytes) -> bool:
    """True when the first non-blank line holds most of the generic CSV columns."""
    from pipelines.ingest.bank.generic_csv import GENERIC_COLUMNS

    head = data[:HEAD_BYTES].decode("utf-8", "replace").lstrip("\ufeff")
    line = next((ln for ln in head.splitlines() if ln.strip()), "").lower()
    names = {n.strip().strip('"').strip() for n in re.split(r"[,;\t]", line)}
    return len(names & set(GENERIC_COLUMNS)) >= len(GENERIC_COLUMNS) - 3


def parse_file(
    path: Path,
    profile: str | None = None,
    profile_dirs: Sequence[Path] = (),
    source_file: str | None = None,
) -> ParseResult:
    """Read one bank file. ``source_file`` names the file in the result and in every reason
    (default: the file's name; the ingest step passes the inbox-relative ``bank/<file>``).

    camt files are streamed from disk (memory stays flat for large statements); other
    formats are small enough to read whole.
    """
    path = Path(path)
    source_file = source_file or path.name
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            fmt = _choose(detect_format(head, source_file), profile)
            if fmt.startswith("camt."):
                handle.seek(0)
                camt = _reader(fmt, source_file)
                return _finish(camt.parse_stream(handle, source_file), fmt, source_file)
            data = head + handle.read()
    except OSError as err:
        raise UnreadableFile(
            source_file, "file", "a readable file", f"{type(err).__name__}: {err.strerror}"
        ) from None
    return parse_bytes(data, source_file, profile=profile, profile_dirs=profile_dirs)


def _finish(result: ParseResult, fmt: str, source_file: str) -> ParseResult:
    if not result.format:
        result.format = fmt
    for tx in result.transactions:
        if not tx.source_file:
            tx.source_file = source_file
    for statement in result.statements:
        if not statement.source_file:
            statement.source_file = source_file
    return result
