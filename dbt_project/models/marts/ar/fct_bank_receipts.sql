{{ keyed_incremental_config('transaction_id', 'receipts_changed_since_last_build',
                            ['erp_invoices', 'bank_transactions'],
                            ["{{ save_watermark('outcomes_as_of', outcomes_night()) }}"]) }}
-- depends_on: {{ ref('stg_recon__allocation_ledger') }}
-- Incremental: a night recomputes only the receipts its new data can change
-- (receipts_changed_since_last_build); the rows equal a full build's.
-- Every incoming transaction (money in) effective on or before the night's date: what is
-- applied to invoices, what waits (on account or for a person), and what is not AR money
-- (returned later, or marked not AR). amount = applied + unapplied + excluded, to the cent.
with receipts as (
    {{ changed_rows(ref('stg_bank__transactions'), 'transaction_id',
                    'amount > 0 and effective_date <= ' ~ as_of_date(), row='_row') }}
),

outcomes as (
    -- the matcher's conclusions of the latest night on or before the date
    select * from {{ ref('stg_recon__receipt_outcomes') }}
    where as_of_date = ({{ outcomes_night() }})
      and {{ recompute_only('transaction_id') }}
),

applied as (
    select
        transaction_id,
        cast(sum(allocated_amount) as decimal(18, 2)) as applied_amount,
        min(customer_id) as allocated_customer_id,
        count(distinct customer_id) as allocated_customers
    from {{ ref('fct_payment_allocations') }}
    where {{ recompute_only('transaction_id') }}
    group by transaction_id
),

joined as (
    select
        receipts.transaction_id,
        receipts.bank_reference,
        receipts.effective_date,
        receipts.amount,
        receipts.currency,
        receipts.counterparty_name,
        coalesce(
            outcomes.payer_customer_id,
            case when applied.allocated_customers = 1 then applied.allocated_customer_id end
        ) as customer_id,
        outcomes.payer_evidence,
        coalesce(outcomes.outcome, case when receipts.is_reversal then 'not_ar' end) as outcome,
        outcomes.reason_code,
        coalesce(applied.applied_amount, cast(0 as decimal(18, 2))) as applied_amount
    from receipts
    left join outcomes using (transaction_id)
    left join applied using (transaction_id)
),

classified as (
    select
        *,
        case
            when outcome in ('returned', 'not_ar') then 'excluded'
            else 'ar'
        end as receipt_class,
        case
            when outcome = 'returned' then 'reversed'
            when outcome = 'not_ar' then 'not_ar'
            when applied_amount = amount then 'matched'
            when applied_amount > 0 then 'partially_matched'
            when outcome = 'on_account' and customer_id is not null then 'on_account'
            else 'exception'
        end as status
    from joined
)

select
    transaction_id,
    bank_reference,
    effective_date,
    amount,
    currency,
    customer_id,
    applied_amount,
    cast(case when receipt_class = 'ar' then amount - applied_amount else 0 end as decimal(18, 2))
        as unapplied_amount,
    cast(case when receipt_class = 'excluded' then amount - applied_amount else 0 end as decimal(18, 2))
        as excluded_amount,
    status,
    reason_code,
    payer_evidence,
    counterparty_name
from classified
