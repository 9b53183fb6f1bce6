"""The reconcile asset: match payments to invoices and append the ledger's changes."""


from collections import Counter
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
from pipelines.reconcile.ledger import append_changes
from pipelines.reconcile.matcher import match, store_outcomes
from pipelines.resources import WarehouseResource
from pipelines.warehouse import connect

MATCHER_INPUTS = [
    AssetKey(["staging", "stg_erp__customers"]),
    AssetKey(["staging", "stg_erp__invoices"]),
    AssetKey(["staging", "stg_erp__credit_notes"]),
    AssetKey(["staging", "stg_bank__transactions"]),
    AssetKey(["staging", "stg_manual__decisions"]),
]
# The outcomes table is written in the same transaction as the ledger.


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
            result = match(con, as_of, settings.matcher)
            con.execute("BEGIN TRANSACTION")
            change = append_changes(con, result.entries, context.run.run_id, as_of)
            store_outcomes(con, result, as_of, context.run.run_id,
                           settings.matcher.outcome_history_days)
            con.execute("COMMIT")
            counts = Counter(o.outcome for o in result.outcomes)
            info["note"] = (", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
                            + f"; ledger +{change.allocations:,} entries, +{change.reversals:,} reversals")
        return MaterializeResult(metadata={
            "entries_wanted": len(result.entries),
            **{f"receipts_{k}": v for k, v in counts.items()},
            "ledger_allocations_appended": change.allocations,
            "ledger_reversals_appended": change.reversals,
        })

    return allocation_ledger
