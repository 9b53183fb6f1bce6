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
    bank_profile_dirs: tuple[Path, ...] = field(default_factory=tuple)
    reporting_currency: str = "EUR"
    # Test-only fault injection: the named stage stops the process as a kill would.
    fault_inject: str = ""
    matcher: MatcherSettings = field(default_factory=MatcherSettings)

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
            bank_profile_dirs=profile_dirs,
            reporting_currency=_env("ARW_REPORTING_CURRENCY", "EUR"),
            fault_inject=_env("ARW_FAULT_INJECT", ""),
            matcher=MatcherSettings.from_env(),
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
    def quarantine_dir(self) -> Path:
        return self.warehouse_dir / "quarantine"

    @property
    def dbt_target_dir(self) -> Path:
        return DBT_PROJECT_DIR / "target"

    def yesterday(self) -> date:
        return (datetime.now(ZoneInfo(self.timezone)) - timedelta(days=1)).date()


def disable_telemetry() -> None:
    """No usage statistics leave the machine: dbt, Dagster and Great Expectations."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # GX's progress bars
