"""Great Expectations suites (``expectations/*.json``) as Dagster asset checks.

The adapter is small on purpose: a suite file, a DataFrame of the night's rows, a result
with the failing expectations and sample rows. GX's pandas data source is used (its SQL
data source over DuckDB returned no rows when checked; see docs/architecture.md).

Importing GX takes ~9 s here. ``prewarm()`` starts one worker process that imports it at
the start of the night, on the second core, while the night ingests; validations then run
there. Without a worker (a check run alone from the Dagster UI) they run in process.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.settings import disable_telemetry

SAMPLE_ROWS = 5
_worker: ProcessPoolExecutor | None = None


@dataclass
class SuiteResult:
    suite: str
    passed: bool
    rows_checked: int
    evaluated: int
    failures: list[dict] = field(default_factory=list)


def _import_gx() -> None:
    disable_telemetry()
    import great_expectations  # noqa: F401


def prewarm() -> Future:
    """Start the GX worker process (idempotent); returns the future of its import."""
    global _worker
    if _worker is None:
        _worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _worker.submit(_import_gx)


def shutdown() -> None:
    global _worker
    if _worker is not None:
        _worker.shutdown(wait=True, cancel_futures=True)
        _worker = None


def load_suite(path: Path):
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(name=spec["name"])
    for item in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=item["type"], kwargs=item["kwargs"]))
    return suite


def _validate(suite_path: Path, frame: pd.DataFrame) -> SuiteResult:
    disable_telemetry()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite = load_suite(suite_path)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name="arw")
    asset = source.add_dataframe_asset(name="rows")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "SUMMARY",
                                                  "partial_unexpected_count": SAMPLE_ROWS})
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        detail = r.result or {}
        exception = r.exception_info if isinstance(r.exception_info, dict) else {}
        failures.append({
            "expectation": cfg.type,
            "kwargs": {k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
            "unexpected_count": detail.get("unexpected_count"),
            "sample_values": [str(v) for v in (detail.get("partial_unexpected_list") or [])][:SAMPLE_ROWS],
            "error": exception.get("exception_message") if exception.get("raised_exception") else None,
        })
    return SuiteResult(suite=suite.name, passed=not failures, rows_checked=len(frame),
                       evaluated=len(result.results), failures=failures)


def validate_frame(suite_path: Path, frame: pd.DataFrame) -> SuiteResult:
    """Validate the rows against the suite; failures carry the expectation and sample values."""
    if _worker is not None:
        return _worker.submit(_validate, suite_path, frame).result()
    return _validate(suite_path, frame)
