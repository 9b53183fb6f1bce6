-- Every incoming transaction (money in) effective on or before the night's date, with what
-- is applied to invoices and what is not. AR receipts = applied + unapplied, to the cent.
with receipts as (
    select * from {{ ref('stg_bank__transactions') }}
    where amount > 0 and effective_date <= {{ as_of_date() }}
),

applied as (
    select
        transaction_id,
        sum(allocated_amount) as applied_amount,
        min(customer_id) as allocated_customer_id,
        count(distinct customer_id) as allocated_customers
    from {{ ref('fct_payment_allocations') }}
    group by transaction_id
),

customer_accounts as (
    -- accounts from master data: `;`-separated, compared without spaces, upper case
    select distinct
        customer_id,
        upper(replace(trim(account.unnest), ' ', '')) as account
    from {{ ref('stg_erp__customers') }},
        unnest(string_split(coalesce(bank_accounts, ''), ';')) as account
    where trim(account.unnest) <> ''
),

unique_accounts as (
    select account, min(customer_id) as customer_id
    from customer_accounts
    group by account
    having count(distinct customer_id) = 1
),

joined as (
    select
        receipts.transaction_id,
        receipts.bank_reference,
        receipts.effective_date,
        receipts.amount,
        receipts.currency,
        receipts.is_reversal,
        case
            when applied.allocated_customers = 1 then applied.allocated_customer_id
            else unique_accounts.customer_id
        end as customer_id,
        coalesce(applied.applied_amount, 0) as applied_amount
    from receipts
    left join applied using (transaction_id)
    left join unique_accounts
        on unique_accounts.account = upper(replace(receipts.counterparty_account, ' ', ''))
)

select
    transaction_id,
    bank_reference,
    effective_date,
    amount,
    currency,
    customer_id,
    applied_amount,
    amount - applied_amount as unapplied_amount,
    case
        when is_reversal then 'reversed'
        when applied_amount = amount then 'matched'
        when applied_amount > 0 then 'partially_matched'
        when customer_id is not null then 'on_account'
        else 'exception'
    end as status
from joined
