-- A view: the ledger filtered by date, with nothing computed. Publishing writes it once into
-- the analysts' file as a table; a table here would be a second full copy of the ledger.
{{ config(materialized='view') }}

-- Every ledger event (allocation, adjustment, and the reversals that restate them) for
-- transactions effective on or before the night's date: what was decided, by which rule and
-- version, with what evidence, in which run.
select
    event_seq,
    event_type,
    kind,
    run_id,
    recorded_as_of_date,
    recorded_at,
    transaction_id,
    invoice_id,
    amount,
    currency,
    effective_date,
    rule,
    rule_version,
    score,
    evidence,
    decided_by,
    reason
from {{ ref('stg_recon__allocation_ledger') }}
where effective_date <= {{ as_of_date() }}
