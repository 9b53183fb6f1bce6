"""`arw bench`: the speed and quality numbers, printed as tables (`make bench`).

Parts (``--only`` picks some):

- ``quality``  precision and recall of the matcher, per rule and overall, on the generator's
               standard mix (the sample size), from the truth file.
- ``camt``     camt.053 parse throughput on a generated 100,000-entry statement.
- ``reconcile`` the matcher on N payments against N open invoices (default 1,000,000),
               beside the floor: a bare DuckDB join of the same tables, and the ratio.
- ``night``    a full first night on a generated inbox per size (``--night-invoices``):
               wall time per stage, the share spent in checks, peak memory, file size.
- ``scale``    issue "Scale": per size (``--sizes S,M,L`` = 100k, 1M, 10M invoices and about
               as many payments, from ``pipelines.synthetic.scale``), the full night and then
               an incremental night (one more day, ``--increment`` invoices and payments):
               wall time and memory per stage, orchestration overhead per asset, dbt's fixed
               overhead, the published file's size, and the floor (a bare DuckDB load, join
               and aggregation of the same files) with the ratio. ``--workdir`` keeps the
               generated inboxes for the next run (a warehouse always starts empty).

Timed numbers belong here, not in tests. Results go into docs/benchmarks.md by hand, with
the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb


def _peak_mb() -> float:
    """This process's peak resident memory (stages reset the kernel's mark: see progress.py)."""
    from pipelines import progress

    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, progress.peak_rss_mb())


def _table(title: str, header: list[str], rows: list[list]) -> str:
    from tabulate import tabulate

    return f"\n{title}\n" + tabulate(rows, headers=header, tablefmt="github", disable_numparse=True)


# --------------------------------------------------------------------------- quality
def bench_quality(workdir: Path) -> str:
    from pipelines.nightly import run_nightly
    from pipelines.reconcile.evaluate import evaluate
    from pipelines.settings import (
        SAMPLE_CUSTOMERS,
        SAMPLE_END_DATE,
        SAMPLE_INVOICES,
        SAMPLE_SEED,
        Settings,
    )
    from pipelines.synthetic.generator import generate

    generate(workdir / "gen", customers=SAMPLE_CUSTOMERS, invoices=SAMPLE_INVOICES, seed=SAMPLE_SEED,
             end_date=SAMPLE_END_DATE)
    settings = Settings.from_env().with_overrides(workdir / "gen" / "inbox", workdir / "wh")
    outcome = run_nightly(settings, SAMPLE_END_DATE)
    if not outcome.published:
        return f"\nquality: the night did not publish: {outcome.reason}"
    score = evaluate(settings.published_db, workdir / "gen" / "truth", SAMPLE_END_DATE)
    rows = [[rule, f"{applied:,.2f}", f"{correct / applied * 100:.3f}%"]
            for rule, (applied, correct) in sorted(score.by_rule.items())]
    rows.append(["overall", f"{score.applied:,.2f}", f"{(score.precision or 0) * 100:.3f}%"])
    recall = f"recall (share of matchable amount applied automatically and correctly): " \
             f"{(score.recall or 0) * 100:.2f}% of {score.matchable:,.2f}"
    return _table("Matcher quality on the standard mix (precision = correct share of what was "
                  "applied automatically)", ["rule", "applied automatically", "precision"], rows) \
        + "\n" + recall


# --------------------------------------------------------------------------- camt
def _write_camt(path: Path, entries: int) -> None:
    """A camt.053.001.02 statement with ``entries`` credit entries whose balances add up."""
    cents = [1000 + (i * 7919) % 900000 for i in range(entries)]
    total = sum(cents)

    def bal(code: str, amount: int, day: str) -> str:
        return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">'
                f'{amount // 100}.{amount % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                f'<Dt><Dt>{day}</Dt></Dt></Bal>')

    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                  '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
                  '<GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2026-10-31T20:00:00</CreDtTm></GrpHdr>'
                  '<Stmt><Id>BENCH-1</Id><ElctrncSeqNb>1</ElctrncSeqNb>'
                  '<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>'
                  + bal("OPBD", 0, "2026-10-01") + bal("CLBD", total, "2026-10-31") + "\n")
        for i, c in enumerate(cents):
            day = 1 + i % 28
            out.write(
                f'<Ntry><NtryRef>{i}</NtryRef><Amt Ccy="EUR">{c // 100}.{c % 100:02d}</Amt>'
                f'<CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-10-{day:02d}</Dt></BookgDt>'
                f'<ValDt><Dt>2026-10-{day:02d}</Dt></ValDt><AcctSvcrRef>REF{i:09d}</AcctSvcrRef>'
                f'<BkTxCd><Domn><Cd>PMNT</Cd></Domn></BkTxCd><NtryDtls><TxDtls><Refs>'
                f'<EndToEndId>E2E{i}</EndToEndId></Refs><RltdPties><Dbtr><Nm>Customer {i % 5000}</Nm>'
                f'</Dbtr><DbtrAcct><Id><IBAN>CH9300762011623852957</IBAN></Id></DbtrAcct></RltdPties>'
                f'<RmtInf><Ustrd>Invoice INV-2026-{i:06d}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n')
        out.write("</Stmt></BkToCstmrStmt></Document>\n")


def bench_camt(workdir: Path, entries: int = 100_000) -> str:
    from pipelines.ingest.bank.dispatch import parse_file

    path = workdir / "camt053_bench.xml"
    _write_camt(path, entries)
    before = _peak_mb()
    started = time.monotonic()
    result = parse_file(path)
    seconds = time.monotonic() - started
    ok = len(result.loaded) == entries and result.statements[0].balance_status == "ok"
    rows = [[f"{entries:,}", f"{path.stat().st_size / 1e6:.1f} MB", f"{seconds:.2f}",
             f"{entries / seconds:,.0f}", f"{max(_peak_mb() - before, 0):.0f}",
             "yes" if ok else "NO"]]
    return _table("camt.053 parse throughput", ["entries", "file", "seconds", "entries/s",
                                                "peak memory growth MB", "all parsed, balance ok"], rows)


# --------------------------------------------------------------------------- reconcile
def _reconcile_inputs(con: duckdb.DuckDBPyConnection, n: int) -> None:
    """n open invoices of n/10 customers, n payments: 60% quote the number, 40% pay by amount."""
    customers = max(n // 10, 1)
    con.execute(f"""
        CREATE SCHEMA staging;
        CREATE TABLE staging.stg_erp__customers AS
        SELECT 'C' || i AS customer_id, 'Customer ' || i || ' GmbH' AS name, '' AS aliases,
               'DE' || lpad(i::VARCHAR, 20, '0') AS bank_accounts
        FROM range({customers}) t(i);
        CREATE TABLE staging.stg_erp__invoices AS
        SELECT i::VARCHAR AS invoice_id, 'INV-' || lpad(i::VARCHAR, 8, '0') AS invoice_number,
               'C' || (i % {customers}) AS customer_id, DATE '2026-01-01' + (i % 200)::INTEGER AS issue_date,
               DATE '2026-01-31' + (i % 200)::INTEGER AS due_date, 'EUR' AS currency,
               (100 + (i * 7919) % 900000 / 100.0)::DECIMAL(18,2) + 0.01 * (i % {customers}) AS amount,
               'issued' AS status
        FROM range({n}) t(i);
        CREATE TABLE staging.stg_erp__credit_notes (credit_note_id VARCHAR, invoice_id VARCHAR,
            customer_id VARCHAR, issue_date DATE, currency VARCHAR, amount DECIMAL(18,2));
        CREATE TABLE staging.stg_bank__transactions AS
        SELECT 'T' || lpad(i::VARCHAR, 9, '0') AS transaction_id, 'R' || i AS bank_reference,
               inv.issue_date + 20 AS effective_date, inv.amount AS amount, 'EUR' AS currency,
               'Customer ' || (i % {customers}) AS counterparty_name,
               'DE' || lpad((i % {customers})::VARCHAR, 20, '0') AS counterparty_account,
               CASE WHEN i % 5 < 3 THEN 'Invoice ' || inv.invoice_number ELSE 'Thank you' END AS remittance_info,
               '' AS structured_reference, '' AS end_to_end_id, false AS is_reversal,
               NULL AS reversal_of, NULL AS return_reason
        FROM range({n}) t(i) JOIN staging.stg_erp__invoices inv ON inv.invoice_id = i::VARCHAR;
        CREATE TABLE staging.stg_manual__decisions (transaction_id VARCHAR, bank_reference VARCHAR,
            action VARCHAR, invoice_number VARCHAR, invoice_id VARCHAR, amount DECIMAL(18,2),
            currency VARCHAR, decided_by VARCHAR, decided_at TIMESTAMP, note VARCHAR,
            source_file VARCHAR, file_seq BIGINT, line_number BIGINT);
    """)


def bench_reconcile(workdir: Path, n: int = 1_000_000) -> str:
    from pipelines.reconcile.ledger import append_changes
    from pipelines.reconcile.matcher import match
    from pipelines.settings import MatcherSettings
    from pipelines.warehouse import AUDIT_DDL

    con = duckdb.connect(str(workdir / "reconcile.duckdb"), config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    con.execute(AUDIT_DDL)
    _reconcile_inputs(con, n)
    started = time.monotonic()
    con.execute("""
        CREATE TEMP TABLE _floor AS
        SELECT t.transaction_id, i.invoice_id, t.amount
        FROM staging.stg_bank__transactions t
        JOIN staging.stg_erp__invoices i ON i.invoice_number = regexp_extract(t.remittance_info, 'INV-[0-9]+')
        UNION ALL
        SELECT t.transaction_id, i.invoice_id, t.amount
        FROM staging.stg_bank__transactions t
        JOIN staging.stg_erp__invoices i
          ON i.customer_id = 'C' || substr(t.counterparty_account, 3)::BIGINT AND i.amount = t.amount
    """)
    floor = time.monotonic() - started
    started = time.monotonic()
    result = match(con, date(2026, 12, 31), MatcherSettings())
    matched = time.monotonic() - started
    started = time.monotonic()
    append_changes(con, result.entries, "bench", date(2026, 12, 31))
    ledger = time.monotonic() - started
    con.close()
    allocated = sum(1 for o in result.outcomes if o.outcome == "allocated")
    total = matched + ledger
    rows = [[f"{n:,}", f"{n:,}", f"{allocated:,}", f"{matched:.1f}", f"{ledger:.1f}", f"{total:.1f}",
             f"{floor:.1f}", f"{total / floor:.1f}x" if floor else "-"]]
    return _table("Reconciliation: N payments against N open invoices (target: at most 60 s for 1M)",
                  ["payments", "open invoices", "allocated", "match s", "ledger s", "total s",
                   "floor s (bare DuckDB join)", "ratio"], rows)


def bench_night(workdir: Path, invoices: int) -> str:
    """A full first night on a generated inbox: wall time per stage and the share of checks."""
    from pipelines import progress
    from pipelines.nightly import run_nightly
    from pipelines.settings import Settings
    from pipelines.synthetic.generator import generate

    customers = max(invoices // 25, 50)
    generate(workdir / f"night{invoices}", customers=customers, invoices=invoices, seed=7,
             end_date=date(2026, 10, 31), bank_format="csv")
    settings = Settings.from_env().with_overrides(workdir / f"night{invoices}" / "inbox",
                                                  workdir / f"wh{invoices}")
    progress.TIMINGS.clear()
    outcome = run_nightly(settings, date(2026, 10, 31))
    stages = list(progress.TIMINGS)
    checks = sum(s for name, s in stages if name.startswith("check"))
    rows = [[name, f"{s:.1f}", f"{s / outcome.seconds * 100:.1f}%"] for name, s in stages]
    rows.append(["other (Dagster, start-up, summary)",
                 f"{outcome.seconds - sum(s for _, s in stages):.1f}", ""])
    rows.append(["night (wall)", f"{outcome.seconds:.1f}", "100%"])
    size = settings.published_db.stat().st_size / 1e6 if settings.published_db.exists() else 0
    return _table(f"Full night, {invoices:,} invoices ({'published' if outcome.published else 'NOT published'},"
                  f" peak memory {_peak_mb():,.0f} MB, published file {size:.1f} MB);"
                  f" checks {checks / outcome.seconds * 100:.1f}% of the night",
                  ["stage", "seconds", "share"], rows)


# --------------------------------------------------------------------------- scale
SIZES = {"S": 100_000, "M": 1_000_000, "L": 10_000_000}
SCALE_END = date(2026, 10, 31)
SCALE_SEED = 7


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _floor(db: Path, inbox: Path, as_of: date, settings) -> float:
    """A bare DuckDB version of the night: load the inbox's invoices and bank rows, join the
    payments to the invoices by the number they quote, aggregate open AR by aging bucket."""
    erp = inbox / "erp"
    ext = "parquet" if any(erp.glob("invoices*.parquet")) else "csv"
    read = (f"read_parquet('{erp}/invoices*.parquet')" if ext == "parquet"
            else f"read_csv('{erp}/invoices*.csv', all_varchar=true)")
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db), config={"threads": settings.duckdb_threads,
                                          "memory_limit": settings.duckdb_memory_limit})
    started = time.monotonic()
    con.execute(f"""
        CREATE TABLE invoices AS SELECT invoice_id, invoice_number, customer_id,
            CAST(issue_date AS DATE) AS issue_date, CAST(due_date AS DATE) AS due_date, currency,
            CAST(amount AS DECIMAL(18, 2)) AS amount, status FROM {read};
        CREATE TABLE bank AS SELECT * FROM read_csv('{inbox}/bank/*.csv', all_varchar=true);
        CREATE TABLE paid AS
            SELECT i.invoice_id, sum(CAST(b.amount AS DECIMAL(18, 2))) AS paid
            FROM bank b JOIN invoices i
              ON i.invoice_number = regexp_extract(b.remittance_info, 'INV-[0-9]{{4}}-[0-9]{{8}}')
            WHERE CAST(b.value_date AS DATE) <= DATE '{as_of}' GROUP BY ALL;
        CREATE TABLE aging AS
            SELECT CASE WHEN d <= 0 THEN 'current' WHEN d <= 30 THEN '1-30' WHEN d <= 60 THEN '31-60'
                        WHEN d <= 90 THEN '61-90' ELSE 'over-90' END AS bucket, currency,
                   sum(open) AS open_amount
            FROM (SELECT i.currency, DATE '{as_of}' - i.due_date AS d,
                         i.amount - coalesce(p.paid, 0) AS open
                  FROM invoices i LEFT JOIN paid p USING (invoice_id)
                  WHERE i.status = 'issued' AND i.issue_date <= DATE '{as_of}')
            WHERE open > 0 GROUP BY ALL;
    """)
    seconds = time.monotonic() - started
    con.close()
    return seconds


def _dbt_fixed_seconds(settings, as_of: date) -> float:
    """dbt's fixed cost per invocation: an in-process `dbt build` that selects no node (cached
    manifest, the adapter opened against the night's build database, no model run)."""
    from pipelines.transform.dbt import run_dbt

    started = time.monotonic()
    run_dbt(settings, ["build", "--select", "tag:arw_bench_selects_nothing",
                       "--vars", json.dumps({"as_of_date": as_of.isoformat()})])
    return time.monotonic() - started


def _night_table(title: str, settings, outcome, stages, floor: float, dbt_fixed: float,
                 load_before: str, load_after: str, children_peak_mb: float, peak_mb: float) -> str:
    wall = outcome.seconds
    rows = [[st.name, f"{st.seconds:.1f}", f"{st.peak_rss_mb:,.0f}", f"{st.rss_end_mb:,.0f}",
             f"{st.seconds / wall * 100:.1f}%"] for st in stages]
    in_stages = sum(st.seconds for st in stages)
    rows.append(["other (Dagster, start-up, summary)", f"{wall - in_stages:.1f}", "", "",
                 f"{(wall - in_stages) / wall * 100:.1f}%"])
    rows.append(["night (wall)", f"{wall:.1f}", f"{peak_mb:,.0f}", "", "100%"])
    checks = sum(st.seconds for st in stages if st.name.startswith("check"))
    # Orchestration: the night's wall time not spent inside an asset's own work (the stages),
    # per asset materialised; and Dagster's own share: its run's wall time minus its steps'.
    orchestration = (wall - in_stages) / max(outcome.assets, 1)
    dagster_gap = outcome.dagster_seconds - outcome.step_seconds
    size = settings.published_db.stat().st_size / 1e6 if settings.published_db.exists() else 0
    lines = [
        f"published: {'yes' if outcome.published else 'NO — ' + outcome.reason}; file {size:,.1f} MB",
        f"checks: {checks:.1f} s = {checks / wall * 100:.1f}% of the night (target ≤ 10%)",
        f"orchestration overhead: ({wall:.1f} − {in_stages:.1f} s in stages) / {outcome.assets} assets = "
        f"{orchestration:.3f} s per asset (target ≤ 0.1 s); Dagster run {outcome.dagster_seconds:.1f} s − "
        f"{outcome.steps} steps' own {outcome.step_seconds:.1f} s = {dagster_gap:.1f} s",
        f"dbt fixed overhead: {dbt_fixed:.1f} s per invocation (a build selecting nothing; target ≤ 5 s), "
        "2 invocations a night",
        f"peak memory: night process {peak_mb:,.0f} MB, GX worker {children_peak_mb:,.0f} MB (target ≤ 12 GB)",
        f"floor (bare DuckDB load, join, aggregate): {floor:.1f} s; ratio {wall / floor:.1f}x",
        f"load average (1/5/15 min) before {load_before}, after {load_after}; DuckDB threads "
        f"{settings.duckdb_threads}, memory limit {settings.duckdb_memory_limit}",
    ]
    return _table(title, ["stage", "wall s", "peak RSS MB", "RSS at end MB", "share"], rows) \
        + "\n" + "\n".join(lines)


def _night_before_reconcile(settings, as_of: date):
    """The night's assets before the matcher (ingest, the raw checks, dbt staging), run as the
    nightly job runs them (in process, with their checks), for sizes whose matcher is out of
    reach. Returns a NightOutcome-like record."""
    from types import SimpleNamespace

    from dagster import DagsterEventType

    from pipelines.nightly import execute_night_job, step_durations_ms
    from pipelines.quality import gx
    from pipelines.transform import dbt
    from pipelines.warehouse import connect

    started = time.monotonic()
    gx.prewarm()
    dbt.prewarm()
    result, dagster_seconds = execute_night_job(
        settings, as_of, log_suffix="-before-reconcile",
        select=lambda k: k.path[0] == "raw" or (k.path[0] == "staging"
                                                and not k.path[-1].startswith("stg_recon")))
    # The next night's checks validate what came since the last published night: count this
    # one as published, as its publish step would have, so that the next night checks only
    # its own files.
    with connect(settings) as con:
        con.execute("UPDATE audit.runs SET status = 'published', finished_at = now() WHERE run_id = ?",
                    [result.run_id])
    step_ms = step_durations_ms(result)
    failed = [f"{e.step_key}: {e.step_failure_data.error.message.strip().splitlines()[0]}"
              if e.step_failure_data.error else e.step_key
              for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    failed += [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    return SimpleNamespace(
        published=False, reason="stopped before the matcher" + (f"; FAILED: {failed}" if failed else ""),
        seconds=time.monotonic() - started, dagster_seconds=dagster_seconds, steps=len(step_ms),
        step_seconds=sum(step_ms) / 1000,
        assets=len({e.asset_key for e in result.get_asset_materialization_events()}))


def _gx_worker_peak_mb() -> float:
    """The GX worker process's peak resident memory so far (it serves every night)."""
    from pipelines.quality import gx

    peak = 0.0
    worker = gx._worker
    for pid in list(getattr(worker, "_processes", None) or {}):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def _run_scale_night(settings, as_of: date, floor_db: Path, title: str, before_reconcile: bool = False) -> str:
    from pipelines import progress
    from pipelines.nightly import run_nightly

    progress.TIMINGS.clear()
    progress.STAGES.clear()
    progress.reset_peak()
    load_before = _load()
    outcome = _night_before_reconcile(settings, as_of) if before_reconcile else run_nightly(settings, as_of)
    load_after = _load()
    stages = list(progress.STAGES)
    peak = progress.peak_rss_mb()
    children = _gx_worker_peak_mb()
    dbt_fixed = _dbt_fixed_seconds(settings, as_of)
    floor = _floor(floor_db, settings.inbox, as_of, settings)
    return _night_table(title, settings, outcome, stages, floor, dbt_fixed, load_before, load_after,
                        children, peak)


def bench_scale(workdir: Path, size: str, increment: int = 20_000, erp_format: str = "parquet",
                before_reconcile: bool = False) -> str:
    """The full night on a generated inbox of the size, then one more day as an incremental night
    (with ``before_reconcile``, each night only up to the matcher)."""
    from dataclasses import asdict

    from pipelines.settings import Settings
    from pipelines.synthetic.scale import generate_scale, write_increment

    invoices = SIZES.get(size.upper()) or int(size.replace("_", ""))
    workdir.mkdir(parents=True, exist_ok=True)
    arw = logging.getLogger("arw")
    if not arw.handlers:  # the stage lines on stderr while the nights run
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        arw.addHandler(handler)
        arw.setLevel(logging.INFO)
    out = workdir / f"scale-{invoices}-{erp_format}-seed{SCALE_SEED}"
    stamp = out / "complete.json"
    wanted = {"invoices": invoices, "erp_format": erp_format}
    reuse = stamp.exists() and json.loads(stamp.read_text()).get("wanted") == wanted
    if not reuse:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        load = _load()
        base = generate_scale(out, invoices, seed=SCALE_SEED, end_date=SCALE_END, erp_format=erp_format)
        stamp.write_text(json.dumps({"wanted": wanted, "base": asdict(base), "load": load}))
    gen = json.loads(stamp.read_text())
    base = gen["base"]
    # The incremental night's files are written into the inbox after the full night, and
    # removed again at the end, so the generated inbox can be reused.
    day = SCALE_END + timedelta(days=1)
    for old in (out / "inbox").rglob(f"*_{day}.*"):
        old.unlink()
    settings = Settings.from_env().with_overrides(out / "inbox", out / "warehouse")
    shutil.rmtree(settings.warehouse_dir, ignore_errors=True)
    header = (f"\n## Scale {size} ({invoices:,} invoices, {base['bank_transactions']:,} bank transactions in "
              f"{base['bank_files']} generic CSV files, ERP as {erp_format} in {base['erp_files']} files; "
              f"inbox {base['bytes'] / 1e6:,.0f} MB generated in {base['seconds']} s at load {gen['load']}"
              f"{', reused' if reuse else ''})")
    part = " up to the matcher (ingest, raw checks, dbt staging)" if before_reconcile else ""
    full = _run_scale_night(settings, SCALE_END, out / "floor.duckdb",
                            f"Full night{part} as of {SCALE_END} (targets: M ≤ 60 s, L ≤ 300 s and ≤ 12 GB)",
                            before_reconcile)
    load = _load()
    inc = write_increment(out, invoices, seed=SCALE_SEED, end_date=SCALE_END, erp_format=erp_format,
                          day_invoices=increment)
    inc_line = (f"one more day: {inc.invoices:,} invoices, {inc.bank_transactions:,} bank transactions "
                f"(generated in {inc.seconds} s at load {load})")
    night2 = _run_scale_night(settings, day, out / "floor.duckdb",
                              f"Incremental night{part} as of {day}, {inc_line} (target on top of L: ≤ 30 s)",
                              before_reconcile)
    for path in (out / "inbox").rglob(f"*_{day}.*"):
        path.unlink()
    (out / "floor.duckdb").unlink(missing_ok=True)
    return header + "\n" + full + "\n" + night2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arw bench")
    parser.add_argument("--only", default="quality,camt,reconcile,night",
                        help="comma-separated parts: quality, camt, reconcile, night, scale")
    parser.add_argument("--night-invoices", default="100000",
                        help="comma-separated invoice counts for full nights (e.g. 100000,1000000)")
    parser.add_argument("--reconcile-size", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="S,M",
                        help="scale: comma-separated sizes, S, M, L or a number of invoices")
    parser.add_argument("--increment", type=int, default=20_000,
                        help="scale: invoices (and about as many payments) of the incremental night")
    parser.add_argument("--erp-format", choices=("parquet", "csv"), default="parquet",
                        help="scale: the ERP files' format (bank files are generic CSV)")
    parser.add_argument("--before-reconcile", action="store_true",
                        help="scale: run each night only up to the matcher (ingest, raw checks, dbt staging)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="scale: keep generated inboxes here and reuse them (default: a temp dir)")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",")}
    print(f"AR Warehouse benchmark — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")
    with tempfile.TemporaryDirectory(prefix="arw-bench-") as tmp:
        work = Path(tmp)
        if "camt" in parts:
            print(bench_camt(work), flush=True)
        if "quality" in parts:
            print(bench_quality(work), flush=True)
        if "reconcile" in parts:
            print(bench_reconcile(work, args.reconcile_size), flush=True)
        if "night" in parts:
            for n in (int(x) for x in args.night_invoices.split(",")):
                print(bench_night(work, n), flush=True)
        if "scale" in parts:
            for size in (x.strip() for x in args.sizes.split(",") if x.strip()):
                print(bench_scale(args.workdir or work, size, args.increment, args.erp_format,
                                  args.before_reconcile), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
