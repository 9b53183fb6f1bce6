-- Countback DSO per currency at the night's date (CONTRACT §4): walk back month by month from
-- D (int_monthly_credit_sales: calendar months, D's month counting its elapsed days); while
-- the remaining AR is at least the month's net credit sales (and something remains), take
-- them off and add the month's days; then add remaining / that month's sales × its days.
-- When the AR is more than every month looked back at, the days of all of them, flagged.
with months as (
    select currency, months_back, period_days, net_credit_sales
    from {{ ref('int_monthly_credit_sales') }}
),

ar as (
    select currency, sum(open_amount) as total_ar
    from {{ ref('int_invoices_balanced') }}
    where status = 'issued'
    group by currency
),

walk as (
    select
        months.currency,
        months.months_back,
        months.period_days,
        months.net_credit_sales,
        coalesce(ar.total_ar, 0) as total_ar,
        -- the AR still to explain when the walk reaches this month
        coalesce(ar.total_ar, 0) - coalesce(sum(months.net_credit_sales) over (
            partition by months.currency order by months.months_back
            rows between unbounded preceding and 1 preceding
        ), 0) as remaining_before
    from months
    left join ar using (currency)
),

marked as (
    select
        *,
        -- a month is taken whole when it and every later month (nearer D) could be
        bool_and(remaining_before > 0 and remaining_before >= net_credit_sales) over (
            partition by currency order by months_back
            rows between unbounded preceding and current row
        ) as is_whole
    from walk
),

first_partial as (
    select
        currency,
        case
            when remaining_before > 0 and net_credit_sales > 0
            then remaining_before / net_credit_sales * period_days
            else 0
        end as partial_days
    from marked
    where not is_whole
    qualify row_number() over (partition by currency order by months_back) = 1
),

per_currency as (
    select
        currency,
        max(total_ar) as total_ar,
        sum(period_days) filter (where is_whole) as whole_days,
        count(*) filter (where is_whole) as whole_months,
        count(*) as months_looked_at,
        sum(net_credit_sales) as sales_looked_at
    from marked
    group by currency
)

select
    per_currency.currency,
    cast(per_currency.total_ar as decimal(18, 2)) as total_ar,
    cast(round(coalesce(per_currency.whole_days, 0) + coalesce(first_partial.partial_days, 0), 2)
         as decimal(18, 2)) as countback_dso,
    cast(per_currency.whole_months as integer) as whole_months,
    -- every month looked at was taken whole and AR is left over: more than the look-back explains
    (per_currency.whole_months = per_currency.months_looked_at
     and per_currency.total_ar > per_currency.sales_looked_at) as ar_exceeds_lookback
from per_currency
left join first_partial using (currency)
