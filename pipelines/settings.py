"""Every path and setting of the pipeline, in one place.

Settings come from environment variables (``ARW_*``) with defaults; the ``arw`` command line
overrides some of them. Nothing else in the code reads the environment for configuration.
Read at call time (``Settings.from_env()``), never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.errors import UsageError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
EXPECTATIONS_DIR = PROJECT_DIR / "expectations"
BANK_PROFILES_DIR = PROJECT_DIR / "pipelines" / "ingest" / "bank" / "profiles"

# The bundled sample: generated on first use with a fixed seed, so every clone gets the same.
SAMPLE_DIR = PROJECT_DIR / "data" / "sample"
SAMPLE_INBOX = SAMPLE_DIR / "inbox"
SAMPLE_SEED = 42
SAMPLE_CUSTOMERS = 200
SAMPLE_INVOICES = 5000
SAMPLE_END_DATE = date(2026, 10, 31)

DEFAULT_AGING_BUCKETS = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"),
                         (180, "91-180"), (365, "181-365"))
OVER_LAST_BUCKET = "over-365"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MatcherSettings:
    """How the cash-application matcher decides (see pipelines/reconcile/matcher.py)."""

    # A payment short of the open amount by at most min(abs, pct % of the payment) settles
    # the invoice; the difference becomes a bank_fee adjustment.
    fee_tolerance_abs: Decimal = Decimal("5.00")
    fee_tolerance_pct: Decimal = Decimal("1.0")
    # A short payment quoting several invoices: "oldest_due_first" or "exception".
    short_payment_policy: str = "oldest_due_first"
    max_combination_size: int = 4
    max_combination_candidates: int = 20
    # rapidfuzz token_sort_ratio (0-100) a payer name needs to identify a customer.
    name_match_threshold: float = 90.0
    # recon.receipt_outcomes holds every receipt's outcome once per night: nights older than
    # this many days before the night being run are dropped (the marts read the night's own).
    outcome_history_days: int = 7
    # Resume the walk after the last night when nothing it read has changed (ARW_MATCHER_RESUME;
    # 0 walks all history every night, as a check or to measure).
    resume: bool = True
    # A walk over more transactions than this goes in slices of whole days, each resumed after
    # the one before (ARW_MATCHER_SLICE_TRANSACTIONS): memory follows the slice and the open
    # invoices, not all history. The result is the same.
    slice_transactions: int = 1_000_000

    @classmethod
    def from_env(cls) -> MatcherSettings:
        policy = _env("ARW_SHORT_PAYMENT_POLICY", "oldest_due_first")
        if policy not in {"oldest_due_first", "exception"}:
            raise ValueError("ARW_SHORT_PAYMENT_POLICY: expected oldest_due_first or exception, "
                             f"found {policy!r}")
        return cls(
            fee_tolerance_abs=Decimal(_env("ARW_FEE_TOLERANCE_ABS", "5.00")),
            fee_tolerance_pct=Decimal(_env("ARW_FEE_TOLERANCE_PCT", "1.0")),
            short_payment_policy=policy,
            max_combination_size=int(_env("ARW_MAX_COMBINATION_SIZE", "4")),
            max_combination_candidates=int(_env("ARW_MAX_COMBINATION_CANDIDATES", "20")),
            name_match_threshold=float(_env("ARW_NAME_MATCH_THRESHOLD", "90")),
            outcome_history_days=max(0, int(_env("ARW_OUTCOME_HISTORY_DAYS", "7"))),
            resume=_env_bool("ARW_MATCHER_RESUME", True),
            slice_transactions=max(1, int(_env("ARW_MATCHER_SLICE_TRANSACTIONS", "1000000"))),
        )


SMTP_TLS_MODES = ("none", "starttls", "ssl")
_SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and when they fire (see docs/alerts.md and pipelines/alerts/).

    Secrets (the webhook URL carries a token, the SMTP password) are kept out of ``repr``
    so that they never reach a log line through a printed settings object.
    """

    webhook_url: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # none | starttls | ssl
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    email_from: str = "ar-warehouse@localhost"
    email_to: tuple[str, ...] = ()
    # An open problem whose facts did not change since the last alert stage is not sent again.
    resend_unchanged: bool = False
    # Delivery: attempts per channel and alert within one alert stage, backoff between them
    # (base × 2^attempt seconds); what is still undelivered stays pending for the next stage.
    max_attempts: int = 3
    retry_backoff_seconds: float = 2.0
    timeout_seconds: float = 10.0
    # Triggers.
    exceptions_threshold: int = 50  # open reconciliation exceptions above this alert
    match_rate_drop: Decimal = Decimal("0.10")  # auto-match rate below trailing avg − this
    match_rate_min_nights: int = 3  # earlier nights needed before the drop is judged
    match_rate_trailing_nights: int = 7
    tie_out_tolerance: Decimal = Decimal("0.00")  # ERP vs warehouse open amount difference
    digest_max_items: int = 20  # lines listed per section of an alert or the digest

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.webhook_url)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.email_to)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line, an error text or the alerts table."""
        return tuple(s for s in (self.webhook_url, self.smtp_password) if s)

    @classmethod
    def from_env(cls) -> AlertSettings:
        tls = _env("ARW_SMTP_TLS", "starttls").lower()
        if tls not in SMTP_TLS_MODES:
            raise UsageError(f"ARW_SMTP_TLS: expected one of {', '.join(SMTP_TLS_MODES)}, found {tls!r}")
        to = tuple(a.strip() for a in os.environ.get("ARW_ALERT_EMAIL_TO", "").split(",") if a.strip())
        host = _env("ARW_SMTP_HOST", "")
        if to and not host:
            raise UsageError("ARW_ALERT_EMAIL_TO is set: expected ARW_SMTP_HOST too, found none")

        def number(name: str, default: str, kind=int):
            text = _env(name, default)
            try:
                value = kind(text)
            except (ValueError, ArithmeticError) as exc:
                raise UsageError(f"{name}: expected a number, found {text!r}") from exc
            if value < 0:
                raise UsageError(f"{name}: expected a number of at least 0, found {text!r}")
            return value

        return cls(
            webhook_url=_env("ARW_ALERT_WEBHOOK_URL", ""),
            smtp_host=host,
            smtp_port=number("ARW_SMTP_PORT", str(_SMTP_DEFAULT_PORTS[tls])),
            smtp_tls=tls,
            smtp_user=_env("ARW_SMTP_USER", ""),
            smtp_password=os.environ.get("ARW_SMTP_PASSWORD", ""),
            email_from=_env("ARW_ALERT_EMAIL_FROM", "ar-warehouse@localhost"),
            email_to=to,
            resend_unchanged=_env_bool("ARW_ALERT_RESEND_UNCHANGED", False),
            max_attempts=max(1, number("ARW_ALERT_MAX_ATTEMPTS", "3")),
            retry_backoff_seconds=number("ARW_ALERT_RETRY_BACKOFF_SECONDS", "2", float),
            timeout_seconds=number("ARW_ALERT_TIMEOUT_SECONDS", "10", float),
            exceptions_threshold=number("ARW_ALERT_EXCEPTIONS_THRESHOLD", "50"),
            match_rate_drop=number("ARW_ALERT_MATCH_RATE_DROP", "0.10", Decimal),
            match_rate_min_nights=number("ARW_ALERT_MATCH_RATE_MIN_NIGHTS", "3"),
            match_rate_trailing_nights=max(1, number("ARW_ALERT_MATCH_RATE_TRAILING_NIGHTS", "7")),
            tie_out_tolerance=number("ARW_ALERT_TIE_OUT_TOLERANCE", "0.00", Decimal),
            digest_max_items=max(1, number("ARW_ALERT_DIGEST_MAX_ITEMS", "20")),
        )


@dataclass(frozen=True)
class Settings:
    inbox: Path
    warehouse_dir: Path
    timezone: str = "Europe/Zurich"
    nightly_time: str = "02:30"  # HH:MM in `timezone`
    partitions_start: str = "2010-01-01"
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "8GB"
    # Models dbt builds at once. They share one DuckDB database, so each gets
    # duckdb_threads // dbt_threads of its threads (dbt_duckdb_threads): the night never runs
    # more query threads than ARW_DUCKDB_THREADS.
    dbt_threads: int = 2
    # Rebuild dbt's incremental models from scratch this night (ARW_DBT_FULL_REFRESH); they are
    # also rebuilt whenever the dbt project changed since the last night. History marts
    # (fct_ar_aging_history) keep their history either way.
    dbt_full_refresh: bool = False
    bank_profile_dirs: tuple[Path, ...] = field(default_factory=tuple)
    reporting_currency: str = "EUR"
    # Test-only fault injection: the named stage stops the process as a kill would.
    fault_inject: str = ""
    # The published copy replaces counterparty names, accounts and remittance texts with
    # stable pseudonyms (pipelines/publish.py); the build database keeps the real values.
    mask_pii: bool = False
    matcher: MatcherSettings = field(default_factory=MatcherSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @property
    def dbt_duckdb_threads(self) -> int:
        """DuckDB's threads while dbt builds (its models run dbt_threads at a time)."""
        return max(1, self.duckdb_threads // self.dbt_threads)

    @classmethod
    def from_env(cls) -> Settings:
        profile_dirs = tuple(
            Path(p).expanduser() for p in os.environ.get("ARW_BANK_PROFILES", "").split(os.pathsep)
            if p.strip()
        )
        return cls(
            inbox=Path(_env("ARW_INBOX", str(SAMPLE_INBOX))).expanduser().resolve(),
            warehouse_dir=Path(_env("ARW_WAREHOUSE_DIR", str(PROJECT_DIR / "warehouse")))
            .expanduser()
            .resolve(),
            timezone=_env("ARW_TIMEZONE", "Europe/Zurich"),
            nightly_time=_env("ARW_NIGHTLY_TIME", "02:30"),
            partitions_start=_env("ARW_PARTITIONS_START", "2010-01-01"),
            duckdb_threads=int(_env("ARW_DUCKDB_THREADS", "2")),
            duckdb_memory_limit=_env("ARW_DUCKDB_MEMORY_LIMIT", "8GB"),
            dbt_threads=max(1, int(_env("ARW_DBT_THREADS", "2"))),
            dbt_full_refresh=_env_bool("ARW_DBT_FULL_REFRESH", False),
            bank_profile_dirs=profile_dirs,
            reporting_currency=_env("ARW_REPORTING_CURRENCY", "EUR"),
            fault_inject=_env("ARW_FAULT_INJECT", ""),
            mask_pii=_env_bool("ARW_MASK_PII", False),
            matcher=MatcherSettings.from_env(),
            alerts=AlertSettings.from_env(),
        )

    def with_overrides(self, inbox: Path | None = None, warehouse_dir: Path | None = None) -> Settings:
        return replace(
            self,
            inbox=inbox.expanduser().resolve() if inbox else self.inbox,
            warehouse_dir=warehouse_dir.expanduser().resolve() if warehouse_dir else self.warehouse_dir,
        )

    # --- state under the warehouse directory (CONTRACT §3) ---
    @property
    def build_db(self) -> Path:
        """The pipeline's own database: raw, audit, recon and every dbt model."""
        return self.warehouse_dir / "build.duckdb"

    @property
    def published_db(self) -> Path:
        """What analysts open, read-only. Replaced atomically after a night passes its checks."""
        return self.warehouse_dir / "ar.duckdb"

    @property
    def report_html(self) -> Path:
        """The nightly HTML report, beside the published warehouse (pipelines/report/)."""
        return self.warehouse_dir / "report.html"

    @property
    def quarantine_dir(self) -> Path:
        return self.warehouse_dir / "quarantine"

    @property
    def docs_dir(self) -> Path:
        """The dbt documentation site `arw docs` builds (index.html, manifest, catalog)."""
        return self.warehouse_dir / "docs"

    @property
    def pii_salt_path(self) -> Path:
        """The secret that makes ARW_MASK_PII pseudonyms stable yet not guessable."""
        return self.warehouse_dir / "pii_salt"

    def yesterday(self) -> date:
        return (datetime.now(ZoneInfo(self.timezone)) - timedelta(days=1)).date()


def disable_telemetry() -> None:
    """No usage statistics leave the machine: dbt, Dagster and Great Expectations."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # GX's progress bars
