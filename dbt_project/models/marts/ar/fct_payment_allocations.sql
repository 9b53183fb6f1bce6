-- Allocations in force at the night's date: ledger events (allocations and their reversals)
-- for transactions effective on or before the date, summed per transaction and invoice.
with ledger as (
    select * from {{ ref('stg_recon__allocation_ledger') }}
    where effective_date <= {{ as_of_date() }} and kind = 'allocation'
),

latest_allocation as (
    select transaction_id, invoice_id, rule, rule_version, score, decided_by
    from ledger
    where event_type = 'allocation' and amount > 0
    qualify row_number() over (partition by transaction_id, invoice_id order by event_seq desc) = 1
),

in_force as (
    select transaction_id, invoice_id, currency, cast(sum(amount) as decimal(18, 2)) as allocated_amount
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
    latest_allocation.rule as match_rule,
    latest_allocation.rule_version,
    latest_allocation.score as confidence,
    latest_allocation.decided_by
from in_force
inner join transactions using (transaction_id)
left join invoices using (invoice_id)
left join latest_allocation using (transaction_id, invoice_id)
