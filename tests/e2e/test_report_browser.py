"""The nightly report of a real night in a real browser: headless Chromium over the DevTools
protocol. No console error, no request leaving the file, every chart drawn with the
warehouse's numbers, and a screenshot in tests/artifacts/report.png to look at."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from websockets.sync.client import connect

from pipelines.report.data import TOP_CREDIT
from tests.unit.report_sql import TOP_OVERDUE_SQL

AS_OF = "2026-10-31"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECTIONS = ("headline", "aging", "aging-trend", "collections", "top-overdue", "credit-warnings",
            "reconciliation")
START_TIMEOUT = 30  # seconds for Chromium to open its DevTools port
CALL_TIMEOUT = 30  # seconds for any one DevTools answer or event


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium not installed: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI must run it
    pytest.skip(message)


class DevTools:
    """A minimal Chrome DevTools Protocol client: one websocket, one page session."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def _receive(self, deadline: float, what: str) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"DevTools: no {what} within {CALL_TIMEOUT} s")
        try:
            return json.loads(self.ws.recv(timeout=remaining))
        except TimeoutError as exc:
            raise TimeoutError(f"DevTools: no {what} within {CALL_TIMEOUT} s") from exc

    def call(self, method: str, params: dict | None = None, *, browser: bool = False) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            reply = self._receive(deadline, f"answer to {method}")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + CALL_TIMEOUT
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            event = self._receive(deadline, f"event {method}")
            if "method" in event:
                self.events.append(event)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


def _open_devtools(proc: subprocess.Popen, profile: Path, log: Path) -> str:
    """The browser's websocket URL, from the DevToolsActivePort file Chromium writes."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if port_file.is_file():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.1)
    raise TimeoutError(f"chromium did not open its DevTools port within {START_TIMEOUT} s: "
                       f"{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Kill the browser and the processes it started (its own process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(generated_night, tmp_path_factory) -> dict:
    """The report the generated night wrote, loaded in headless Chromium: what the page logged
    and asked for, and a handle to query it."""
    browser = _chromium()
    base = tmp_path_factory.mktemp("report")
    night_seconds = generated_night["seconds"]
    report = generated_night["wh"] / "report.html"
    assert report.is_file(), generated_night["stdout"]

    profile = base / "chromium-profile"
    log = base / "chromium.log"
    with log.open("wb") as log_handle:
        proc = subprocess.Popen(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=log_handle, start_new_session=True)
    try:
        url = _open_devtools(proc, profile, log)
        with connect(url, max_size=None, open_timeout=CALL_TIMEOUT, close_timeout=5) as ws:
            yield _load(DevTools(ws), report, {"report": report, "db": generated_night["wh"] / "ar.duckdb",
                                               "summary": generated_night["stdout"],
                                               "night_seconds": night_seconds})
    finally:
        _stop(proc)


def _load(tools: DevTools, report: Path, facts: dict) -> dict:
    """Open a page session, switch on what we listen to, and load the report."""
    target = tools.call("Target.createTarget", {"url": "about:blank"}, browser=True)
    attached = tools.call("Target.attachToTarget",
                          {"targetId": target["targetId"], "flatten": True}, browser=True)
    tools.session = attached["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        tools.call(f"{domain}.enable")
    tools.call("Emulation.setDeviceMetricsOverride",
               {"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    tools.call("Page.navigate", {"url": report.as_uri()})
    tools.wait_for("Page.loadEventFired")
    tools.evaluate("document.fonts.ready.then(() => true)")
    return {"tools": tools, **facts}


def _sql(page, query: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(page["db"]), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def test_the_night_writes_the_report_and_names_it_in_the_summary(page):
    assert f"Report: {page['report']}" in page["summary"]
    assert page["tools"].evaluate("document.title") == f"AR report {AS_OF}"
    assert page["tools"].evaluate("document.querySelector('h1').textContent") == \
        "Accounts receivable — 31 October 2026"


def test_no_console_error_no_exception_and_no_request_leaves_the_file(page):
    tools = page["tools"]
    tools.evaluate("1")  # drain what the page said since it loaded
    problems = []
    for event in tools.events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(("console", [a.get("value") for a in params.get("args", [])]))
        elif method == "Runtime.exceptionThrown":
            problems.append(("exception", params["exceptionDetails"].get("text")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            problems.append(("log", params["entry"].get("text")))
    assert problems == []
    requests = [e["params"]["request"]["url"] for e in tools.events
                if e["method"] == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests


def test_every_section_is_there_and_every_chart_has_data(page):
    counts = page["tools"].evaluate(f"const ids = {json.dumps(list(SECTIONS))};" + """
        Object.fromEntries(ids.map(id => {
            const s = document.getElementById(id);
            return [id, s ? {marks: s.querySelectorAll('[data-amount]').length,
                             empty: s.querySelectorAll('.empty').length,
                             svgs: s.querySelectorAll('svg').length} : null];
        }))""")
    assert all(counts[s] is not None for s in SECTIONS), counts
    for section_id in SECTIONS:
        assert counts[section_id]["marks"] > 0, (section_id, counts)
    for chart in ("headline", "aging", "aging-trend", "collections", "reconciliation"):
        assert counts[chart]["svgs"] > 0 and counts[chart]["empty"] == 0, (chart, counts)
    # drawn, not just present: every non-zero bar of the aging chart has a width on screen
    widths = page["tools"].evaluate("""
        [...document.querySelectorAll('#aging rect[data-bucket]')]
            .map(r => [r.dataset.amount, r.getBoundingClientRect().width])""")
    assert widths and all(w > 0 for a, w in widths if Decimal(a) != 0), widths


def test_headline_and_aging_bars_equal_the_warehouse(page):
    tools = page["tools"]
    totals = {c: (t, o) for c, t, o in _sql(page, """
        SELECT currency, sum(open_amount),
               coalesce(sum(open_amount) FILTER (WHERE days_past_due > 0), 0)
        FROM marts.fct_ar_aging GROUP BY 1""")}
    cards = tools.evaluate("""
        [...document.querySelectorAll('#headline .card')].map(c => [c.dataset.currency,
            c.dataset.total, c.dataset.overdue, c.querySelector('[data-field=total]').textContent])""")
    assert {c: (Decimal(t), Decimal(o)) for c, t, o, _ in cards} == totals
    assert all(text == f"{c} {totals[c][0]:,.2f}" for c, _, _, text in cards)

    buckets = {(c, b): a for c, b, a in _sql(page, """
        SELECT currency, aging_bucket, sum(open_amount) FROM marts.fct_ar_aging GROUP BY ALL""")}
    bars = tools.evaluate("""
        [...document.querySelectorAll('#aging rect[data-bucket]')]
            .map(r => [r.dataset.currency, r.dataset.bucket, r.dataset.amount])""")
    assert {(c, b): Decimal(a) for c, b, a in bars if Decimal(a) != 0} == buckets
    # the trend's latest column is tonight's aging
    latest = tools.evaluate(f"""
        [...document.querySelectorAll('#aging-trend rect[data-date="{AS_OF}"]')]
            .map(r => [r.dataset.currency, r.dataset.bucket, r.dataset.amount])""")
    assert {(c, b): Decimal(a) for c, b, a in latest} == buckets


def test_top_overdue_customers_are_the_warehouse_top_10(page):
    expected = _sql(page, TOP_OVERDUE_SQL)
    rows = page["tools"].evaluate("""
        [...document.querySelectorAll('#top-overdue tr[data-rank]')]
            .map(r => [r.dataset.customerId, r.dataset.currency, r.dataset.amount])""")
    assert len(expected) == 10
    assert [(c, cur, Decimal(a)) for c, cur, a in rows] == expected


def test_collections_credit_and_reconciliation_equal_the_warehouse(page):
    tools = page["tools"]
    collections = {(p, c, s): (a, t, pct) for p, c, s, a, t, pct in _sql(page, """
        SELECT period, currency, coalesce(salesperson_id, ''), collected_amount, target_amount,
               attainment_pct
        FROM marts.fct_collections_vs_target WHERE period IN ('2026-10', '2026-09')""")}
    bars = tools.evaluate("""
        [...document.querySelectorAll('#collections rect[data-salesperson]')].map(r => [
            r.dataset.period, r.dataset.currency, r.dataset.salesperson, r.dataset.amount,
            r.dataset.target, r.dataset.attainment])""")
    assert {(p, c, s): (Decimal(a), Decimal(t) if t else None, Decimal(x) if x else None)
            for p, c, s, a, t, x in bars} == collections

    warnings = _sql(page, f"""
        SELECT customer_id, warning_level FROM marts.fct_credit_exposure
        WHERE warning_level <> 'none'
        ORDER BY TRY_CAST(warning_level AS INTEGER) DESC, utilization_pct DESC NULLS FIRST, customer_id
        LIMIT {TOP_CREDIT}""")
    rows = tools.evaluate("""
        [...document.querySelectorAll('#credit-warnings tr[data-level]')]
            .map(r => [r.dataset.customerId, r.dataset.level])""")
    assert list(map(tuple, rows)) == warnings and rows
    assert [int(level) for _, level in rows] == sorted((int(lv) for _, lv in rows), reverse=True)

    exceptions = {c: (n, a) for c, n, a in _sql(page, """
        SELECT currency, count(*), sum(amount) FROM marts.fct_reconciliation_exceptions GROUP BY 1""")}
    shown = tools.evaluate("""
        [...document.querySelectorAll('#reconciliation table.exceptions-total tr[data-currency]')]
            .map(r => [r.dataset.currency, r.dataset.count, r.dataset.amount])""")
    assert {c: (int(n), Decimal(a)) for c, n, a in shown} == exceptions
    tonight = {c: r for c, r in _sql(page, """
        SELECT currency, auto_match_rate FROM marts.fct_ar_kpis WHERE basis = 'native'""")}
    rates = tools.evaluate("""
        [...document.querySelectorAll('#reconciliation table.match-tonight tr[data-currency]')]
            .map(r => [r.dataset.currency, r.dataset.rate])""")
    assert {c: Decimal(r) if r else None for c, r in rates} == tonight
    points = tools.evaluate("document.querySelectorAll('#match-trend circle[data-rate]').length")
    assert points > 0


def test_screenshot_for_a_person_to_look_at(page):
    tools = page["tools"]
    size = tools.call("Page.getLayoutMetrics")["cssContentSize"]
    shot = tools.call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(png)
    print(f"night {page['night_seconds']:.1f} s; screenshot {ARTIFACTS / 'report.png'} "
          f"({size['width']:.0f}×{size['height']:.0f} px); as of {date.fromisoformat(AS_OF)}")
