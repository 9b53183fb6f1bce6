"""`arw`: the command line (CONTRACT §5).

    arw nightly [--as-of DATE] [--inbox DIR] [--warehouse-dir DIR]
    arw generate --out DIR [--customers N] [--invoices N] [--seed S]
    arw bank parse FILE [--profile NAME]
    arw sql "QUERY" [--format table|csv|json|parquet] [--output FILE]
    arw exceptions export [--output FILE] [--warehouse-dir DIR]
    arw docs [--serve] [--port N] [--warehouse-dir DIR]

Exit codes of `arw nightly`: 0 published, 1 not published (a blocking check failed, with
the reason), 2 unusable input or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date
from pathlib import Path

from pipelines.errors import UsageError
from pipelines.settings import (
    SAMPLE_CUSTOMERS,
    SAMPLE_DIR,
    SAMPLE_END_DATE,
    SAMPLE_INBOX,
    SAMPLE_INVOICES,
    SAMPLE_SEED,
    Settings,
    disable_telemetry,
)

EXIT_OK, EXIT_NOT_PUBLISHED, EXIT_BAD_INPUT = 0, 1, 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, found {text!r}") from exc


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    arw = logging.getLogger("arw")
    arw.handlers[:] = [handler]
    arw.setLevel(logging.INFO)
    arw.propagate = False


# --------------------------------------------------------------------------- nightly
def ensure_sample_inbox(settings: Settings) -> None:
    """The bundled sample inbox is generated on first use (fixed seed: the same everywhere)."""
    if settings.inbox != SAMPLE_INBOX.resolve() or SAMPLE_INBOX.exists():
        return
    from pipelines.synthetic.generator import generate

    print(f"Generating the sample inbox in {SAMPLE_DIR} (first run) ...", file=sys.stderr)
    generate(SAMPLE_DIR, customers=SAMPLE_CUSTOMERS, invoices=SAMPLE_INVOICES, seed=SAMPLE_SEED,
             end_date=SAMPLE_END_DATE)


def cmd_nightly(args: argparse.Namespace) -> int:
    from pipelines.nightly import run_nightly

    settings = Settings.from_env().with_overrides(args.inbox, args.warehouse_dir)
    ensure_sample_inbox(settings)
    as_of = args.as_of or settings.yesterday()
    outcome = run_nightly(settings, as_of)
    print(outcome.summary)
    return EXIT_OK if outcome.published else EXIT_NOT_PUBLISHED


# --------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.synthetic.generator import generate

    started = time.monotonic()
    summary = generate(args.out, customers=args.customers, invoices=args.invoices, seed=args.seed,
                       end_date=args.end_date, bank_format=args.bank_format,
                       progress=lambda msg: print(f"  {msg}", file=sys.stderr))
    print(f"Wrote {args.out / 'inbox'} and the truth in {args.out / 'truth'} "
          f"in {time.monotonic() - started:.1f} s")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return EXIT_OK


# --------------------------------------------------------------------------- bank parse
def cmd_bank_parse(args: argparse.Namespace) -> int:
    from pipelines.ingest.bank.dispatch import parse_file
    from pipelines.ingest.bank.records import UnreadableFile
    from pipelines.ingest.bank.report import render_parse_output

    settings = Settings.from_env()
    try:
        result = parse_file(args.file, profile=args.profile, profile_dirs=settings.bank_profile_dirs)
    except UnreadableFile as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(render_parse_output(result))
    return EXIT_OK


# --------------------------------------------------------------------------- sql
def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.query import run_query

    settings = Settings.from_env().with_overrides(None, args.warehouse_dir)
    return run_query(settings, args.query, args.format, args.output)


# --------------------------------------------------------------------------- exceptions
def cmd_exceptions_export(args: argparse.Namespace) -> int:
    from pipelines.exceptions import export_exceptions, export_message

    settings = Settings.from_env().with_overrides(None, args.warehouse_dir)
    worklist = export_exceptions(settings, args.output)
    # With the CSV on standard output, the count goes to standard error.
    print(export_message(worklist, settings, args.output),
          file=sys.stdout if args.output else sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- docs
def cmd_docs(args: argparse.Namespace) -> int:
    from pipelines.docs_site import build_docs, serve

    settings = Settings.from_env().with_overrides(None, args.warehouse_dir)
    started = time.monotonic()
    site = build_docs(settings)
    print(f"Wrote the warehouse documentation to {site} in {time.monotonic() - started:.1f} s",
          flush=True)
    if args.serve:
        serve(site, args.port)
    else:
        print("  `arw docs --serve` serves it on http://127.0.0.1:8080/ (--port N for another)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arw", description="AR Warehouse")
    sub = parser.add_subparsers(dest="command", required=True)

    nightly = sub.add_parser("nightly", help="run the whole night: ingest, reconcile, build, check, publish")
    nightly.add_argument("--as-of", type=_date, help="the night's date (default: yesterday)")
    nightly.add_argument("--inbox", type=Path, help="inbox folder (default: ARW_INBOX or the sample)")
    nightly.add_argument("--warehouse-dir", type=Path, help="state folder (default: ARW_WAREHOUSE_DIR)")
    nightly.set_defaults(func=cmd_nightly)

    gen = sub.add_parser("generate", help="write a realistic synthetic inbox and its truth")
    gen.add_argument("--out", type=Path, required=True, help="writes OUT/inbox and OUT/truth")
    gen.add_argument("--customers", type=int, default=SAMPLE_CUSTOMERS)
    gen.add_argument("--invoices", type=int, default=SAMPLE_INVOICES)
    gen.add_argument("--seed", type=int, default=SAMPLE_SEED)
    gen.add_argument("--end-date", type=_date, default=SAMPLE_END_DATE)
    gen.add_argument("--bank-format", choices=["mixed", "camt", "csv", "parquet"], default="mixed")
    gen.set_defaults(func=cmd_generate)

    bank = sub.add_parser("bank", help="bank statement tools")
    bank_sub = bank.add_subparsers(dest="bank_command", required=True)
    parse = bank_sub.add_parser("parse", help="print a statement file's normalised transactions")
    parse.add_argument("file", type=Path)
    parse.add_argument("--profile", help="CSV profile name (default: chosen by header)")
    parse.set_defaults(func=cmd_bank_parse)

    sql = sub.add_parser("sql", help="run a read-only query on the published warehouse")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    sql.add_argument("--output", type=Path)
    sql.add_argument("--warehouse-dir", type=Path)
    sql.set_defaults(func=cmd_sql)

    exceptions = sub.add_parser("exceptions", help="reconciliation exceptions: the worklist")
    exceptions_sub = exceptions.add_subparsers(dest="exceptions_command", required=True)
    export = exceptions_sub.add_parser(
        "export", help="write the open exceptions and their candidates as a decisions worklist")
    export.add_argument("--output", type=Path, help="CSV file (default: standard output)")
    export.add_argument("--warehouse-dir", type=Path)
    export.set_defaults(func=cmd_exceptions_export)

    docs = sub.add_parser("docs", help="build (and serve) the warehouse documentation")
    docs.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1 until Ctrl-C")
    docs.add_argument("--port", type=int, default=8080, help="port for --serve (default 8080)")
    docs.add_argument("--warehouse-dir", type=Path)
    docs.set_defaults(func=cmd_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    # Partitioned asset checks and backfill policies are "preview"/"beta" in Dagster 1.13;
    # we rely on them knowingly.
    warnings.filterwarnings("ignore", message=".*is currently in (preview|beta).*")
    disable_telemetry()
    _setup_logging()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
