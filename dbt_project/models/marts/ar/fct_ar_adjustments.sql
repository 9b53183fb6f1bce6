-- Adjustments in force at the night's date: bank fees (short payments within tolerance),
-- small-balance and manual write-offs. One row per transaction, invoice, type and date.
select
    invoice_id,
    transaction_id,
    kind as adjustment_type,
    effective_date,
    currency,
    cast(sum(amount) as decimal(18, 2)) as amount
from {{ ref('stg_recon__allocation_ledger') }}
where kind <> 'allocation' and effective_date <= {{ as_of_date() }}
group by invoice_id, transaction_id, kind, effective_date, currency
having sum(amount) <> 0
