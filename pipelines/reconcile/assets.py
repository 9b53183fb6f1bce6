"""The reconcile asset: match payments to invoices and append the ledger's changes."""


from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.automation import nightly_asset_kwargs
from pipelines.progress import stage
from pipelines.reconcile.night import reconcile_night
from pipelines.resources import WarehouseResource
from pipelines.warehouse import connect

MATCHER_INPUTS = [
    AssetKey(["staging", "stg_erp__customers"]),
    AssetKey(["staging", "stg_erp__invoices"]),
    AssetKey(["staging", "stg_erp__credit_notes"]),
    AssetKey(["staging", "stg_bank__transactions"]),
    AssetKey(["staging", "stg_manual__decisions"]),
]
# The outcomes and the matcher's checkpoint are written in the same transaction as the ledger's
# last entries (a night in several slices commits each slice's entries: night._walk_and_store).


def build_reconcile_asset(partitions: PartitionsDefinition):
    @asset(
        key=["recon", "allocation_ledger"],
        deps=MATCHER_INPUTS,
        **nightly_asset_kwargs(partitions),
        group_name="reconcile",
        kinds={"duckdb"},
        description="Append-only allocation ledger: every allocation and reversal with rule, "
        "version, score, evidence and run.",
    )
    def allocation_ledger(context: AssetExecutionContext, warehouse: WarehouseResource):
        warehouse.fault_point("reconcile")
        settings = warehouse.settings()
        as_of = date.fromisoformat(context.partition_key)
        with stage("reconcile") as info, connect(settings) as con:
            night = reconcile_night(con, as_of, settings.matcher, context.run.run_id)
            info["note"] = (", ".join(f"{k} {v:,}" for k, v in night.counts.items())
                            + f"; ledger +{night.change.allocations:,} entries, "
                            f"+{night.change.reversals:,} reversals; {night.plan.why}")
        context.log.info(f"Matcher: {night.plan.why} ({night.walked:,} transactions decided)")
        return MaterializeResult(metadata={
            "walk": night.plan.why,
            "transactions_decided": night.walked,
            "entries_wanted": night.entries_wanted,
            **{f"receipts_{k}": v for k, v in night.counts.items()},
            "ledger_allocations_appended": night.change.allocations,
            "ledger_reversals_appended": night.change.reversals,
        })

    return allocation_ledger
