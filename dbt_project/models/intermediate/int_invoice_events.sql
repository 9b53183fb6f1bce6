-- Every dated event that changes an invoice's open amount, on or before the night's date
-- (CONTRACT §4 "open amount(D)"): credit notes by their issue date; ledger entries by their
-- effective date: allocations (cash applied; a return's reversal on the return's date) and
-- adjustments (bank fees, write-offs), each with the reversals that restate them.
-- `amount` is what the event takes off the open amount: a reversal is negative (re-opens).
-- A view: a union of two filtered sources, cheaper to read than to write down.
{{ config(materialized='view') }}

with credit_notes as (
    select
        invoice_id,
        issue_date as event_date,
        'credit_note' as event_type,
        'credit_note' as detail,
        credit_note_id as source_id,
        amount
    from {{ ref('stg_erp__credit_notes') }}
    where invoice_id is not null
      and issue_date <= {{ as_of_date() }}
),

ledger_entries as (
    select kind, event_type as ledger_event_type, invoice_id, effective_date, transaction_id, amount
    from {{ ref('stg_recon__allocation_ledger') }}
    where effective_date <= {{ as_of_date() }}
),

ledger as (
    select
        invoice_id,
        effective_date as event_date,
        case when kind = 'allocation' then 'allocation' else 'adjustment' end as event_type,
        -- the ledger's kind (allocation, bank_fee, …), and whether the event is a reversal
        kind || case when ledger_event_type = 'reversal' then ' reversal' else '' end as detail,
        transaction_id as source_id,
        amount
    from ledger_entries
),

events as (
    select * from credit_notes
    union all
    select * from ledger
)

select
    invoice_id,
    event_date,
    event_type,
    detail,
    source_id,
    cast(amount as decimal(18, 2)) as amount
from events
