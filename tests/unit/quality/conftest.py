"""A build database with a published night and a new one, for the checks to look at."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from pipelines.resources import WarehouseResource
from pipelines.settings import Settings
from pipelines.warehouse import connect, ensure_schema

NOW = datetime(2026, 11, 1, 2, 30)
PUBLISHED_RUN, NEW_RUN = "run-published", "run-new"


class Warehouse:
    """Rows into the build database as ingest would put them (with a registered file)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.seq = 0
        with connect(settings) as con:
            ensure_schema(con)
            con.execute("INSERT INTO audit.runs VALUES (?, ?, ?, ?, 'published', NULL), "
                        "(?, ?, ?, NULL, 'running', NULL)",
                        [PUBLISHED_RUN, date(2026, 10, 31), NOW, NOW, NEW_RUN, date(2026, 11, 1), NOW])

    def resource(self) -> WarehouseResource:
        return WarehouseResource(inbox=str(self.settings.inbox),
                                 warehouse_dir=str(self.settings.warehouse_dir))

    def file(self, path: str, kind: str, run_id: str, rows_in: int, loaded: int, rejected: int = 0,
             duplicate: int = 0) -> tuple[str, int]:
        self.seq += 1
        file_hash = f"hash{self.seq}"
        with connect(self.settings) as con:
            con.execute("INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, 100, 'loaded', ?, ?, ?, ?, NULL, ?, ?)",
                        [file_hash, self.seq, Path(path).name, path, kind, rows_in, loaded, rejected,
                         duplicate, run_id, NOW])
        return file_hash, self.seq

    def invoices(self, path: str, run_id: str, lines: list[tuple]) -> None:
        """lines: (invoice_id, number, issue, due, amount, updated_at or None)"""
        file_hash, seq = self.file(path, "erp:invoices", run_id, len(lines), len(lines))
        with connect(self.settings) as con:
            for n, (iid, number, issue, due, amount, updated) in enumerate(lines, start=2):
                con.execute("""
                    INSERT INTO raw.erp_invoices VALUES (?, ?, NULL, 'C1', NULL, ?, ?, 'EUR', ?,
                        'issued', false, ?, ?, ?, ?, ?, ?, ?)
                """, [iid, number, date.fromisoformat(issue), date.fromisoformat(due), Decimal(amount),
                      updated, file_hash, seq, path, n, run_id, NOW])

    def transactions(self, path: str, run_id: str, lines: list[tuple]) -> None:
        """lines: (transaction_id, effective_date, amount, currency)"""
        file_hash, seq = self.file(path, "bank", run_id, len(lines), len(lines))
        with connect(self.settings) as con:
            for n, (tid, effective, amount, ccy) in enumerate(lines, start=1):
                d = date.fromisoformat(effective)
                con.execute("""
                    INSERT INTO raw.bank_transactions VALUES (?, NULL, 'CH93', '', '', ?, ?, ?, ?, ?,
                        '', '', '', '', '', false, '', '', ?, 'camt.053', ?, ?, ?, ?, NULL, ?, ?)
                """, [tid, d, d, d, Decimal(amount), ccy, path, f"Ntry[{n}]", file_hash, seq, path,
                      run_id, NOW])


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(Settings.from_env().with_overrides(tmp_path / "inbox", tmp_path / "wh"))


def stub_assets(*tables: str) -> list:
    """Raw assets whose rows are already in the build database, and one asset downstream."""
    @dg.multi_asset(specs=[dg.AssetSpec(["raw", t]) for t in tables], can_subset=True)
    def raw_stubs(context: dg.AssetExecutionContext):
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key)

    @dg.asset(key=["staging", "downstream"], deps=[["raw", t] for t in tables])
    def downstream():
        return None

    return [raw_stubs, downstream]
