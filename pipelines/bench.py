"""`arw bench`: the speed and quality numbers, printed as tables (`make bench`).

Parts (``--only`` picks some):

- ``quality``  precision and recall of the matcher, per rule and overall, on the generator's
               standard mix (the sample size), from the truth file.
- ``camt``     camt.053 parse throughput on a generated 100,000-entry statement.
- ``reconcile`` the matcher on N payments against N open invoices (default 1,000,000),
               beside the floor: a bare DuckDB join of the same tables, and the ratio.
- ``night``    a full first night on a generated inbox per size (``--night-invoices``):
               wall time per stage, the share spent in checks, peak memory, file size.

Timed numbers belong here, not in tests. Results go into docs/benchmarks.md by hand, with
the machine and the date.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arw bench")
    parser.add_argument("--only", default="quality,camt,reconcile,night")
    parser.add_argument("--night-invoices", default="100000",
                        help="comma-separated invoice counts for full nights (e.g. 100000,1000000)")
    parser.add_argument("--reconcile-size", type=int, default=1_000_000)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
