"""The matcher's short cut decides exactly what the long way decides.

Receipts that quote one invoice of the paying account's customer for exactly its open amount
are found in SQL (``_SETTLED_BY_EVIDENCE``) and only confirmed in the walk. Here the same
night's inputs are matched twice, with the short cut and with it switched off (every receipt
through ``_receipt``), and the entries and outcomes must be identical, in order.
"""

from __future__ import annotations

import shutil
from datetime import date

import duckdb

from pipelines.reconcile import matcher
from pipelines.settings import MatcherSettings

from .conftest import GENERATED_AS_OF


def _match(db, monkeypatch, short_cut: bool):
    if not short_cut:  # no receipt is settled by the evidence alone
        monkeypatch.setattr(matcher, "_SETTLED_BY_EVIDENCE", matcher._SETTLED_BY_EVIDENCE + " AND false")
    with duckdb.connect(str(db)) as con:
        result = matcher.match(con, date.fromisoformat(GENERATED_AS_OF), MatcherSettings())
        settled = con.execute("SELECT count(*) FROM _settled").fetchone()[0]
    monkeypatch.undo()
    entries = [(e.transaction_id, e.invoice_id, e.amount, e.currency, e.effective_date, e.rule,
                e.rule_version, e.score, e.evidence, e.decided_by, e.kind) for e in result.entries]
    outcomes = [(o.transaction_id, o.payer_customer_id, o.payer_evidence, o.outcome, o.reason_code,
                 o.candidates) for o in result.outcomes]
    return entries, outcomes, settled


def test_the_short_cut_decides_exactly_what_the_long_way_decides(generated_night, tmp_path, monkeypatch):
    db = tmp_path / "build.duckdb"
    shutil.copy(generated_night["wh"] / "build.duckdb", db)
    fast_entries, fast_outcomes, settled = _match(db, monkeypatch, short_cut=True)
    slow_entries, slow_outcomes, none = _match(db, monkeypatch, short_cut=False)
    assert settled > len(fast_outcomes) // 4 and none == 0  # the short cut really was taken
    assert fast_entries == slow_entries
    assert fast_outcomes == slow_outcomes
