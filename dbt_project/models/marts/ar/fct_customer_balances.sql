-- Per customer and currency at the night's date: open AR (open invoices), unapplied cash
-- (what is left of the receipts identified to the customer: on account, partially matched,
-- waiting for a person) and net AR = open AR − unapplied cash. Every customer has at least
-- its own currency's row; another currency appears when it has invoices or cash in it.
with open_ar as (
    select customer_id, currency, sum(open_amount) as open_ar
    from {{ ref('int_invoices_balanced') }}
    where status = 'issued'
    group by customer_id, currency
),

unapplied as (
    select customer_id, currency, sum(unapplied_amount) as unapplied_cash
    from {{ ref('fct_bank_receipts') }}
    where customer_id is not null
      and status not in ('not_ar', 'reversed')
    group by customer_id, currency
),

customers as (
    select customer_id, name, currency
    from {{ ref('stg_erp__customers') }}
),

balance_keys as (
    select customer_id, currency from customers
    union
    select customer_id, currency from open_ar
    union
    select customer_id, currency from unapplied
),

balances as (
    select
        balance_keys.customer_id,
        balance_keys.currency,
        cast(coalesce(open_ar.open_ar, 0) as decimal(18, 2)) as open_ar,
        cast(coalesce(unapplied.unapplied_cash, 0) as decimal(18, 2)) as unapplied_cash
    from balance_keys
    left join open_ar using (customer_id, currency)
    left join unapplied using (customer_id, currency)
)

select
    {{ as_of_date() }} as as_of_date,
    balances.customer_id,
    customers.name as customer_name,
    balances.currency,
    balances.open_ar,
    balances.unapplied_cash,
    cast(balances.open_ar - balances.unapplied_cash as decimal(18, 2)) as net_ar
from balances
left join customers using (customer_id)
