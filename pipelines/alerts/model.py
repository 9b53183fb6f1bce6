"""What an alert is: a kind, a severity, a subject a person reads first, a body, and facts.

The fingerprint (kind + subject + facts) decides whether an alert says something new:

- ``EVENT``   something that happened once (a night not published, a run that failed, the
              night's digest): its facts name the night or the run, so it is always new.
- ``PROBLEM`` an open problem evaluated again every night (exceptions above the threshold,
              a broken control, a match-rate drop, ERP tie-out differences): sent when it
              appears or its facts change; while it stays the same it is recorded as
              ``suppressed`` (unless ARW_ALERT_RESEND_UNCHANGED=true).
- ``FACT``    a fact about a delivered file (a statement that does not add up, a sequence
              gap, a quarantined file): sent once, ever.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ERROR, WARNING, INFO = "error", "warning", "info"
EVENT, PROBLEM, FACT = "event", "problem", "fact"
PRODUCT = "AR Warehouse"


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def to_json(value) -> str:
    """Deterministic JSON (sorted keys; Decimal and dates as text)."""
    return json.dumps(value, sort_keys=True, default=_default, ensure_ascii=False)


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str
    subject: str
    body: str
    facts: dict = field(default_factory=dict)
    policy: str = PROBLEM

    @property
    def fingerprint(self) -> str:
        text = to_json({"kind": self.kind, "subject": self.subject, "facts": self.facts})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def alert_id(self, run_id: str) -> str:
        """Stable per run: the same alert evaluated twice for one run is recorded once."""
        return hashlib.sha256(f"{run_id}\x1f{self.fingerprint}".encode()).hexdigest()[:24]


def money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def bullet_list(lines: list[str], limit: int, more: str = "more", total: int | None = None) -> str:
    """The first `limit` lines as bullets, and how many more there are (of `total`, when only
    the first lines were fetched)."""
    shown = [f"- {line}" for line in lines[:limit]]
    total = len(lines) if total is None else total
    if total > len(shown):
        shown.append(f"- … and {total - len(shown):,} {more}")
    return "\n".join(shown)
