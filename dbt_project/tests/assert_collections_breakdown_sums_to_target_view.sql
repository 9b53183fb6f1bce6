{{ config(meta={"dagster": {"ref": {"name": "fct_collections_breakdown"}}}) }}
-- The breakdown splits exactly the cash of fct_collections_vs_target, and both equal the
-- allocations in force (fct_payment_allocations) per currency and month of value date.
with breakdown as (
    select salesperson_id, period, currency, sum(collected_amount) as collected
    from {{ ref('fct_collections_breakdown') }}
    group by all
),

vs_target as (
    select salesperson_id, period, currency, collected_amount as collected
    from {{ ref('fct_collections_vs_target') }}
    where collected_amount <> 0
),

by_key as (
    select 'breakdown vs target' as check_name, salesperson_id, period, currency,
           b.collected as left_amount, t.collected as right_amount
    from breakdown b
    full outer join vs_target t using (salesperson_id, period, currency)
    where coalesce(b.collected, 0) <> coalesce(t.collected, 0)
),

allocations as (
    select strftime(value_date, '%Y-%m') as period, currency, sum(allocated_amount) as collected
    from {{ ref('fct_payment_allocations') }}
    group by all
),

by_month as (
    select period, currency, sum(collected) as collected
    from breakdown
    group by all
)

select * from by_key
union all
-- allocations in force on their value date; a return re-dated later moves cash between months,
-- so this compares the all-months total per currency
select 'breakdown vs allocations', null, null, currency, b.collected, a.collected
from (select currency, sum(collected) as collected from by_month group by currency) b
full outer join (select currency, sum(collected) as collected from allocations group by currency) a
    using (currency)
where coalesce(b.collected, 0) <> coalesce(a.collected, 0)
