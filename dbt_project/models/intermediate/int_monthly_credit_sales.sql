-- Net credit sales per currency and calendar month, walking back from the night's date D for
-- countback DSO (CONTRACT §4): months_back 0 is D's month, counting only its elapsed days
-- (the 1st to D); earlier months count all their days. Invoices issued − credit notes
-- issued in the month (on or before D); a month without sales is there with 0.
with invoices as (
    select currency, issue_date as sale_date, 'invoice' as kind, amount
    from {{ ref('stg_erp__invoices') }}
    where status = 'issued' and issue_date <= {{ as_of_date() }}
),

credit_notes as (
    select currency, issue_date as sale_date, 'credit_note' as kind, amount
    from {{ ref('stg_erp__credit_notes') }}
    where issue_date <= {{ as_of_date() }}
),

sales as (
    select * from invoices
    union all
    select * from credit_notes
),

currencies as (
    select distinct currency from sales
),

months as (
    select
        months_back,
        cast(date_trunc('month', {{ as_of_date() }}) - to_months(months_back) as date) as month_start
    from range(0, {{ countback_max_months() }}) as t(months_back)
),

periods as (
    select
        cast(months_back as integer) as months_back,
        month_start,
        least(cast(last_day(month_start) as date), {{ as_of_date() }}) as period_end
    from months
),

monthly as (
    select
        currency,
        cast(date_trunc('month', sale_date) as date) as month_start,
        sum(amount) filter (where kind = 'invoice') as invoiced_amount,
        sum(amount) filter (where kind = 'credit_note') as credited_amount
    from sales
    group by all
)

select
    currencies.currency,
    periods.months_back,
    periods.month_start,
    periods.period_end,
    {{ days_between('periods.month_start', 'periods.period_end') }} + 1 as period_days,
    cast(coalesce(monthly.invoiced_amount, 0) as decimal(18, 2)) as invoiced_amount,
    cast(coalesce(monthly.credited_amount, 0) as decimal(18, 2)) as credited_amount,
    cast(coalesce(monthly.invoiced_amount, 0) - coalesce(monthly.credited_amount, 0)
         as decimal(18, 2)) as net_credit_sales
from currencies
cross join periods
left join monthly
    on monthly.currency = currencies.currency
   and monthly.month_start = periods.month_start
