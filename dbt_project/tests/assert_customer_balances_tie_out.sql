{{ config(meta={"dagster": {"ref": {"name": "fct_customer_balances"}}}) }}
-- Per currency: open AR of the customer balances = bucket totals of the aging, and unapplied
-- cash = the unapplied amount of the receipts identified to a customer (fct_bank_receipts).
with balances as (
    select currency, sum(open_ar) as open_ar, sum(unapplied_cash) as unapplied_cash
    from {{ ref('fct_customer_balances') }}
    group by currency
),

aging as (
    select currency, sum(open_amount) as open_ar
    from {{ ref('fct_ar_aging') }}
    group by currency
),

receipts as (
    select currency, sum(unapplied_amount) as unapplied_cash
    from {{ ref('fct_bank_receipts') }}
    where customer_id is not null and status not in ('not_ar', 'reversed')
    group by currency
)

select currency, balances.open_ar, aging.open_ar as aging_open_ar,
       balances.unapplied_cash, receipts.unapplied_cash as receipts_unapplied
from balances
full outer join aging using (currency)
full outer join receipts using (currency)
where coalesce(balances.open_ar, 0) <> coalesce(aging.open_ar, 0)
   or coalesce(balances.unapplied_cash, 0) <> coalesce(receipts.unapplied_cash, 0)
