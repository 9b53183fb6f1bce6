-- Collections (回款) against target per salesperson, month and currency, for every month up
-- to the night's date D (D's month so far): collected = cash allocated with value date in the
-- month, credited to the invoice's salesperson, else the customer's; attainment_pct =
-- collected / target × 100, null when there is no target (or it is zero).
with collected as (
    select salesperson_id, month_start, currency, sum(collected_amount) as collected_amount
    from {{ ref('int_collections') }}
    group by salesperson_id, month_start, currency
),

targets as (
    select
        salesperson_id,
        cast(strptime(period || '-01', '%Y-%m-%d') as date) as month_start,
        currency,
        target_amount
    from {{ ref('stg_erp__collection_targets') }}
),

joined as (
    select
        salesperson_id,
        month_start,
        currency,
        targets.target_amount,
        cast(coalesce(collected.collected_amount, 0) as decimal(18, 2)) as collected_amount
    from targets
    full outer join collected using (salesperson_id, month_start, currency)
    where month_start <= date_trunc('month', {{ as_of_date() }})
)

select
    {{ as_of_date() }} as as_of_date,
    salesperson_id,
    strftime(month_start, '%Y-%m') as period,
    month_start,
    currency,
    target_amount,
    collected_amount,
    cast(
        case
            when target_amount > 0 then round(collected_amount * 100 / target_amount, 4)
        end
    as decimal(18, 4)) as attainment_pct
from joined
