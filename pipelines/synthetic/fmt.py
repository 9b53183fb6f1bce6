"""Text output helpers: money from integer cents, ISO dates, CSV files with stable bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def money(cents: Iterable[int] | np.ndarray) -> np.ndarray:
    """Integer cents → ``"-1234.50"`` (two decimals, ``.`` point, no thousands separator)."""
    c = np.asarray(cents, dtype=np.int64)
    a = np.abs(c)
    text = pd.Series(a // 100).astype(str) + "." + pd.Series(a % 100).astype(str).str.zfill(2)
    text = text.to_numpy(dtype=object)
    neg = c < 0
    if neg.any():
        text[neg] = ["-" + t for t in text[neg]]
    return text


def money1(cents: int) -> str:
    """One amount in cents → text (see :func:`money`)."""
    a = -cents if cents < 0 else cents
    return f"{'-' if cents < 0 else ''}{a // 100}.{a % 100:02d}"


def iso_dates(days: np.ndarray) -> np.ndarray:
    """datetime64[D] → ``YYYY-MM-DD`` strings (NaT → empty)."""
    text = np.datetime_as_string(days.astype("datetime64[D]"), unit="D")
    return np.where(np.isnat(days), "", text)


def iso_datetimes(seconds: np.ndarray) -> np.ndarray:
    """datetime64[s] → ``YYYY-MM-DDTHH:MM:SS`` strings."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")


def bools(values: np.ndarray) -> list[str]:
    return ["true" if v else "false" for v in values]


def _csv_text(values: Sequence[object]) -> pa.Array:
    """A column as CSV field text: quoted only where needed (``,``, ``"`` or a line break),
    the way Python's ``csv`` module writes with ``QUOTE_MINIMAL``."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return pa.array(arr).cast(pa.string())  # digits and a sign: never quoted
    column = pa.array(arr.astype(object) if arr.dtype.kind != "O" else arr, pa.string())
    needs = pc.match_substring_regex(column, '[",\r\n]')
    if not pc.any(needs).as_py():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, column)


def write_csv(
    path: Path, header: Sequence[str], columns: Sequence[Sequence[object]], chunk: int = 200_000
) -> int:
    """Write columns (equal lengths) as UTF-8 CSV with ``\n`` line ends; returns the row count."""
    n = len(columns[0]) if columns else 0
    if any(len(col) != n for col in columns):
        raise ValueError(f"{path.name}: columns of different lengths")
    return write_csv_chunks(path, header, n, lambda lo, hi: [col[lo:hi] for col in columns], chunk)


def write_csv_chunks(
    path: Path,
    header: Sequence[str],
    n: int,
    make_columns: Callable[[int, int], Sequence[Sequence[object]]],
    chunk: int = 200_000,
) -> int:
    """Write ``n`` rows whose columns ``make_columns(lo, hi)`` builds a chunk at a time, so a
    million-row file never holds all its text at once. Fields are joined in Arrow; quoting
    as in :func:`_csv_text`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write((",".join(header) + "\n").encode("utf-8"))
        for lo in range(0, n, chunk):
            fields = [_csv_text(col) for col in make_columns(lo, min(n, lo + chunk))]
            lines = pc.binary_join_element_wise(*fields, ",")
            offsets = pa.array([0, len(lines)], pa.int32())
            block = pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "\n")
            fh.write(block[0].as_py().encode("utf-8"))
            fh.write(b"\n")
    return n


# --------------------------------------------------------------------------- frames
def text(values: object) -> pd.Series:
    """A column of Python strings kept as ``object`` (pandas would otherwise convert it to
    Arrow strings and back on every access, which costs time and memory at a million rows)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def table(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame whose text columns stay ``object``; a plain ``str`` value fills its column."""
    n = next(len(v) for v in columns.values() if not isinstance(v, str | int | float))
    out: dict[str, object] = {}
    for name, values in columns.items():
        if isinstance(values, str):
            out[name] = text(np.full(n, values, dtype=object))
        elif isinstance(values, int | float):
            out[name] = np.full(n, values)
        else:
            arr = np.asarray(values)
            out[name] = text(arr) if arr.dtype.kind in "UO" else arr
    return pd.DataFrame(out)
