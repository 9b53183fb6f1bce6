{{ keyed_incremental_config('transaction_id', 'exceptions_changed_since_last_build', []) }}
-- depends_on: {{ ref('stg_recon__allocation_ledger') }}
-- Receipts that need a person as of the night's date, with the matcher's reason and the
-- candidate invoices it saw. first_seen_date: the first night that put it here (the
-- matcher keeps it beyond the nights of outcomes it keeps; a night dated before it, a
-- backfill, shows its own date).
-- Incremental: a night recomputes only the receipts whose row would differ from the one
-- this table holds (exceptions_changed_since_last_build); the rows equal a full build's.
-- (the night's outcomes are read directly: a CTE of all kept nights, read twice, would be
-- materialised in full; the exceptions' transactions are read in two steps, a few of many)
with latest as (
    select * from {{ ref('stg_recon__receipt_outcomes') }}
    where as_of_date = ({{ outcomes_night() }})
      and outcome = 'exception'
      and {{ recompute_only('transaction_id') }}
),

first_seen as (
    select transaction_id, first_seen_date
    from {{ ref('stg_recon__exception_first_seen') }}
    where first_seen_date <= {{ as_of_date() }}
),

transactions as (
    {{ rows_where(ref('stg_bank__transactions'), 'transaction_id in (select transaction_id from latest)',
                  row='_row') }}
)

select
    latest.transaction_id,
    transactions.bank_reference,
    transactions.effective_date,
    transactions.amount,
    transactions.currency,
    transactions.counterparty_name,
    transactions.counterparty_account,
    transactions.remittance_info,
    latest.reason_code,
    latest.candidates as candidate_invoice_numbers,
    latest.payer_customer_id,
    coalesce(first_seen.first_seen_date, latest.as_of_date) as first_seen_date
from latest
inner join transactions using (transaction_id)
left join first_seen using (transaction_id)
