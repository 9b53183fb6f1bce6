"""Why a run did not finish as it should: its failed checks and failed steps, from its events.

Used the same way by ``arw nightly`` (the events of the in-process run) and by the
run-failure sensor (the events Dagster stored for the run), so both alerts read alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from dagster import DagsterEvent, DagsterEventType

from pipelines.alerts.model import ERROR, EVENT, Alert, bullet_list

MAX_LISTED = 10
# A blocking check that failed also fails its step with this error: the check says more.
_CHECK_STEP_ERROR = "DagsterAssetCheckFailedError"
_STEP_WRAPPER = "DagsterExecutionStepExecutionError"


_DAGSTER_CLASS = re.compile(r"^dagster(\.\w+)+: ")
MAX_DETAIL = 600


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return _DAGSTER_CLASS.sub("", lines[0].strip()) if lines else ""


def _detail(text: str | None, lines: int = 4) -> str:
    """The first few lines of an error (dbt puts the cause on the second line)."""
    kept = [line.strip() for line in (text or "").strip().splitlines() if line.strip()][:lines]
    joined = " / ".join(kept)
    joined = _DAGSTER_CLASS.sub("", joined)
    return joined if len(joined) <= MAX_DETAIL else joined[:MAX_DETAIL - 1] + "…"


def _metadata_value(metadata: dict, key: str):
    value = metadata.get(key)
    return getattr(value, "value", value)


@dataclass
class RunFailure:
    checks: list[dict] = field(default_factory=list)  # {check, asset, description}
    steps: list[dict] = field(default_factory=list)  # {step, error}
    run_error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.checks or self.steps or self.run_error)

    @classmethod
    def from_events(cls, events: Iterable[DagsterEvent | None], run_error: str = "") -> RunFailure:
        out = cls(run_error=_first_line(run_error))
        for event in events:
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if evaluation.passed:
                    continue
                description = evaluation.description
                if not description:
                    meta = evaluation.metadata or {}
                    rows = _metadata_value(meta, "failing_rows")
                    message = _metadata_value(meta, "message")
                    description = f"failed ({rows} failing rows)" if rows else "failed"
                    if message:
                        description += f": {_first_line(str(message))}"
                out.checks.append({"check": evaluation.check_name,
                                   "asset": evaluation.asset_key.to_user_string(),
                                   "description": description})
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                err = event.step_failure_data.error if event.step_failure_data else None
                message = _first_line(err.message) if err else "failed"
                detail = _detail(err.message) if err else "failed"
                if err and err.cause:
                    # Dagster wraps the asset's own exception: the cause is what happened.
                    cause = _first_line(err.cause.message)
                    wrapped = err.cls_name == _STEP_WRAPPER
                    message = cause if wrapped else f"{message} — {cause}"
                    detail = _detail(err.cause.message) if wrapped else f"{detail} — {_detail(err.cause.message)}"
                out.steps.append({"step": event.step_key, "error": message, "detail": detail,
                                  "error_class": err.cls_name if err else None})
        return out

    def reasons(self) -> list[str]:
        lines = [f"check {c['check']} on {c['asset']}: {c['description']}" for c in self.checks]
        for s in self.steps:
            if self.checks and (s.get("error_class") == _CHECK_STEP_ERROR
                                or _CHECK_STEP_ERROR in s["error"]):
                continue
            lines.append(f"step {s['step']}: {s.get('detail') or s['error']}")
        if not lines and self.run_error:
            lines.append(self.run_error)
        return lines


def not_published_alert(as_of: date | None, run_id: str, failure: RunFailure, job: str = "nightly",
                        published_path: str = "") -> Alert:
    """The night did not publish (or a run failed): which check or step, and why."""
    reasons = failure.reasons() or ["the publish step did not run"]
    night = f"Night of {as_of.isoformat()}" if as_of else f"Run {run_id[:8]} of {job}"
    if failure.checks:
        names = [c["check"] for c in failure.checks]
        what = (f"check {names[0]} on {failure.checks[0]['asset']} failed" if len(names) == 1
                else f"{len(names)} checks failed ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})")
        kind = "check_failed"
    else:
        what = "a step failed" if failure.steps else "the run failed"
        if failure.steps:
            what = f"step {failure.steps[0]['step']} failed: {failure.steps[0]['error']}"
        kind = "run_failed"
    subject = f"{night} NOT published: {what}" if as_of else f"{night} failed: {what}"
    kept = ("The published warehouse was left as it was (the last published night)"
            + (f": {published_path}" if published_path else "") + ".")
    body = "\n".join([
        kept if as_of else "",
        "Why:",
        bullet_list(reasons, MAX_LISTED, "more reasons"),
        "",
        f"Run {run_id} ({job}). The night's log and the Dagster run hold the details; "
        "correct the input and the next night publishes.",
    ]).strip()
    facts = {"run_id": run_id, "as_of_date": as_of, "job": job,
             "checks": [{"check": c["check"], "asset": c["asset"], "description": c["description"]}
                        for c in failure.checks],
             "steps": [{"step": s["step"], "error": s["error"]} for s in failure.steps]}
    return Alert(kind=kind, severity=ERROR, subject=subject, body=body, facts=facts, policy=EVENT)
