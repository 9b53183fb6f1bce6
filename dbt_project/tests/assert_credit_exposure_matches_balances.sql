{{ config(meta={"dagster": {"ref": {"name": "fct_credit_exposure"}}}) }}
-- For a customer whose open AR is all in its own currency, the exposure's open AR is its
-- balance in that currency.
with balances as (
    select b.customer_id, b.currency = c.currency as own_currency, b.open_ar
    from {{ ref('fct_customer_balances') }} b
    inner join {{ ref('dim_customers') }} c using (customer_id)
),

own_currency_only as (
    select customer_id, sum(open_ar) filter (where own_currency) as open_ar
    from balances
    group by customer_id
    having count(*) filter (where not own_currency and open_ar <> 0) = 0
)

select e.customer_id, e.open_ar as exposure_open_ar, b.open_ar as balance_open_ar
from {{ ref('fct_credit_exposure') }} e
inner join own_currency_only b using (customer_id)
where e.open_ar is distinct from b.open_ar
