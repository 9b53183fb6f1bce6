"""Great Expectations suites (``expectations/*.json``) validated on DataFrames.

The adapter is small on purpose: a suite file, a DataFrame of the rows to check, a result
with the failing expectations, sample values and sample rows (with the file and line they
came from). GX's pandas data source is used (its SQL data source over DuckDB returned no
rows when checked; see docs/architecture.md). ``pipelines/quality/checks.py`` turns suites
into Dagster asset checks.

Importing GX takes ~9 s here. ``prewarm()`` starts one worker process that imports it at
the start of the night, on the second core, while the night ingests; validations then run
there (``submit``), so the night's process can read the next table while GX checks the
previous one. Without a worker (a check run alone from the Dagster UI, a test) they run in
process. The GX context and the parsed suites are kept per process: a context costs ~50 ms.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.settings import disable_telemetry

SAMPLE_ROWS = 5
# Lineage columns shown with a sample row when the frame has them (raw tables do).
LINEAGE_COLUMNS = ("_source_file", "_line_number", "_location")
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)

_worker: ProcessPoolExecutor | None = None
_context_cache: dict[str, object] = {}
_suite_cache: dict[tuple[str, float], object] = {}


@dataclass(frozen=True)
class Suite:
    """A suite file: its expectations and what the check around it needs to know (``meta``)."""

    path: Path
    name: str
    expectations: tuple[dict, ...]
    description: str = ""
    blocking: bool = True
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column an expectation names, in order of first mention."""
        seen: dict[str, None] = {}
        for item in self.expectations:
            kwargs = item.get("kwargs", {})
            for name in _COLUMN_KWARGS:
                if isinstance(kwargs.get(name), str):
                    seen.setdefault(kwargs[name], None)
            for name in _COLUMN_LIST_KWARGS:
                for col in kwargs.get(name) or []:
                    seen.setdefault(col, None)
        return tuple(seen)


def read_suite(path: Path) -> Suite:
    spec = json.loads(path.read_text(encoding="utf-8"))
    meta = spec.get("meta", {})
    return Suite(path=path, name=spec["name"], expectations=tuple(spec["expectations"]),
                 description=meta.get("description", ""), blocking=bool(meta.get("blocking", True)),
                 key=tuple(meta.get("key", ())))


@dataclass
class SuiteResult:
    suite: str
    passed: bool
    rows_checked: int
    evaluated: int
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # time GX took, in the worker (or the SQL screen, see screen.py)
    engine: str = "great_expectations"  # or "sql": the SQL screen found no violation

    def describe(self, limit: int = 5) -> str:
        """One line per failing expectation: what, how many rows, sample values and where."""
        parts = []
        for f in self.failures[:limit]:
            kwargs = ", ".join(f"{k}={v}" for k, v in f["kwargs"].items())
            text = f"{f['expectation']} ({kwargs})"
            if f.get("error"):
                text += f": could not be evaluated: {f['error']}"
            elif f.get("unexpected_count") is not None:
                text += f": {f['unexpected_count']} of {self.rows_checked} rows, e.g. {f['sample_values']}"
                where = [_where(row) for row in f.get("sample_rows", [])]
                where = [w for w in where if w]
                if where:
                    text += f" ({'; '.join(where[:3])})"
            elif f.get("observed_value") is not None:
                text += f": observed {f['observed_value']}"
            parts.append(text)
        if len(self.failures) > limit:
            parts.append(f"and {len(self.failures) - limit} more failing expectations")
        return "; ".join(parts)


def _where(row: dict) -> str:
    source = row.get("_source_file")
    if not source:
        return ""
    if row.get("_line_number"):
        return f"{source} line {row['_line_number']}"
    if row.get("_location"):
        return f"{source} {row['_location']}"
    return str(source)


def _worker_init(parent_pid: int) -> None:
    """In the GX worker: let go of the parent's output pipes, and die with the parent.

    A night killed half-way must not leave a worker behind that holds its terminal or
    pipes open (whoever waits for the night's output would wait forever).
    """
    import os
    import threading
    import time

    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _import_gx() -> None:
    disable_telemetry()
    import great_expectations  # noqa: F401


def prewarm() -> Future | None:
    """Start the GX worker process once per process (it serves every later night too)."""
    global _worker
    if _worker is not None:
        return None
    _worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))
    atexit.register(shutdown)
    return _worker.submit(_import_gx)


def shutdown() -> None:
    global _worker
    if _worker is not None:
        worker, _worker = _worker, None
        worker.shutdown(wait=True, cancel_futures=True)


def load_suite(path: Path):
    """The suite file as a GX ExpectationSuite (parsed once per file version and process)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    cache_key = (str(path), path.stat().st_mtime)
    if cache_key in _suite_cache:
        return _suite_cache[cache_key]
    spec = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(name=spec["name"])
    for item in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=item["type"], kwargs=item["kwargs"]))
    _suite_cache[cache_key] = suite
    return suite


def _batch_definition():
    """One ephemeral GX context with a whole-DataFrame batch definition, per process."""
    if "batch" not in _context_cache:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas(name="arw")
        asset = source.add_dataframe_asset(name="rows")
        _context_cache["context"] = context
        _context_cache["batch"] = asset.add_batch_definition_whole_dataframe("all")
    return _context_cache["batch"]


def _exception_message(info) -> str | None:
    """GX 1.x puts exceptions either flat or keyed by metric id; the first message, if any."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return info.get("exception_message")
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return value["exception_message"]
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # tuples and arrays: not a scalar
        pass
    if isinstance(value, tuple):
        return "(" + ", ".join(str(_text(v)) for v in value) + ")"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _sample_rows(frame: pd.DataFrame, index: list, columns: list[str]) -> list[dict]:
    cols = [c for c in columns if c in frame.columns]
    rows = []
    for idx in index[:SAMPLE_ROWS]:
        if idx in frame.index:
            row = {c: _text(frame.at[idx, c]) for c in cols}
            rows.append({c: v for c, v in row.items() if v is not None or c not in LINEAGE_COLUMNS})
    return rows


def _validate(suite_path: Path, frame: pd.DataFrame, key: tuple[str, ...] = ()) -> SuiteResult:
    started = time.monotonic()
    disable_telemetry()
    suite = load_suite(suite_path)
    result = _batch_definition().get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS})
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
        detail = r.result or {}
        named = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
        row_columns = list(dict.fromkeys([*key, *named, *LINEAGE_COLUMNS]))
        failures.append({
            "expectation": cfg.type,
            "kwargs": kwargs,
            "unexpected_count": detail.get("unexpected_count"),
            "observed_value": _text(detail.get("observed_value")),
            "sample_values": [_text(v) for v in (detail.get("partial_unexpected_list") or [])][:SAMPLE_ROWS],
            "sample_rows": _sample_rows(frame, list(detail.get("partial_unexpected_index_list") or []),
                                        row_columns),
            "error": _exception_message(r.exception_info),
        })
    return SuiteResult(suite=suite.name, passed=not failures, rows_checked=len(frame),
                       evaluated=len(result.results), failures=_plain(failures),
                       seconds=time.monotonic() - started)


def _plain(value):
    """JSON-safe (Dagster metadata): numpy scalars as Python numbers, anything else as text."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


validate_in_process = _validate


def submit(suite_path: Path, frame: pd.DataFrame, key: tuple[str, ...] = ()) -> Future:
    """Validate in the worker when there is one (returns at once), else in process."""
    if _worker is not None:
        return _worker.submit(_validate, suite_path, frame, key)
    done: Future = Future()
    try:
        done.set_result(_validate(suite_path, frame, key))
    except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
        done.set_exception(exc)
    return done


def validate_frame(suite_path: Path, frame: pd.DataFrame, key: tuple[str, ...] = ()) -> SuiteResult:
    """Validate the rows against the suite; failures carry the expectation and sample values."""
    return submit(suite_path, frame, key).result()
