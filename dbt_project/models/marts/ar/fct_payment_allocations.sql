{{ keyed_incremental_config('transaction_id', 'allocations_changed_since_last_build', ['erp_invoices']) }}
-- Incremental: a night recomputes only the transactions its new data can change
-- (allocations_changed_since_last_build); the rows equal a full build's.
-- Allocations in force at the night's date: ledger events (allocations and their reversals)
-- for transactions effective on or before the date, summed per transaction and invoice.
with ledger as (
    select * from {{ ref('stg_recon__allocation_ledger') }}
    where effective_date <= {{ as_of_date() }} and kind = 'allocation'
      and {{ recompute_only('transaction_id') }}
),

-- per transaction and invoice: the amount in force, and the rule, version, score and decider
-- of the latest positive allocation (a reversal restates, it does not decide)
in_force as (
    select
        transaction_id,
        invoice_id,
        currency,
        cast(sum(amount) as decimal(18, 2)) as allocated_amount,
        arg_max(
            struct_pack(rule, rule_version, score, decided_by), event_seq
        ) filter (where event_type = 'allocation' and amount > 0) as latest
    from ledger
    group by transaction_id, invoice_id, currency
    having sum(amount) <> 0
),

transactions as (
    select transaction_id, bank_reference, effective_date
    from {{ ref('stg_bank__transactions') }}
),

invoices as (
    select invoice_id, invoice_number, customer_id
    from {{ ref('stg_erp__invoices') }}
)

select
    in_force.transaction_id,
    transactions.bank_reference,
    in_force.invoice_id,
    invoices.invoice_number,
    invoices.customer_id,
    in_force.allocated_amount,
    in_force.currency,
    transactions.effective_date as value_date,
    in_force.latest.rule as match_rule,
    in_force.latest.rule_version,
    in_force.latest.score as confidence,
    in_force.latest.decided_by
from in_force
inner join transactions using (transaction_id)
left join invoices using (invoice_id)
