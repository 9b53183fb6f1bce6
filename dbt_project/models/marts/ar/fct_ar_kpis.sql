-- AR KPIs per as_of_date × currency × basis (CONTRACT §4). W = the P days ending at D
-- (var kpi_window_days, default 90). Basis `native`: amounts in the currency itself.
-- Basis `reporting`: the same amounts converted to the reporting currency with the latest
-- rate on or before D (one rate per currency and night, so the ratios equal the native ones);
-- a currency without a rate keeps its row with null amounts and missing_fx_rate = true.
--   dso = AR / net credit sales(W) × P (null when the sales are zero)
--   best_possible_dso = current AR / net credit sales(W) × P; add_days = dso − best possible
--   countback_dso: int_countback_dso
--   cei = (AR(D−P) + sales(W) − AR(D)) / (AR(D−P) + sales(W) − current AR(D)) × 100
--   collection_rate = cash allocated with value date in W
--                     / (AR already due at the start of W + amounts falling due within W)
--   auto_match_rate = amount applied by the matcher / AR receipt amount (applied + unapplied
--                     of receipts not `not_ar`), receipts effective in the 30 days to D
--                     (var auto_match_window_days)
with inputs as (
    select * from {{ ref('int_ar_kpi_inputs') }}
),

countback as (
    select currency, countback_dso, ar_exceeds_lookback
    from {{ ref('int_countback_dso') }}
),

receipts as (
    -- the AR receipt amount: applied + unapplied (money returned or not AR is excluded)
    select transaction_id, currency, applied_amount + unapplied_amount as amount
    from {{ ref('fct_bank_receipts') }}
    where status <> 'not_ar'
      and effective_date > {{ as_of_date_minus(auto_match_window_days()) }}
      and effective_date <= {{ as_of_date() }}
),

matcher_applied as (
    select transaction_id, sum(allocated_amount) as applied_amount
    from {{ ref('fct_payment_allocations') }}
    where decided_by = 'matcher'
    group by transaction_id
),

auto_match as (
    select
        receipts.currency,
        sum(receipts.amount) as ar_receipts_amount,
        coalesce(sum(matcher_applied.applied_amount), 0) as matcher_applied_amount
    from receipts
    left join matcher_applied using (transaction_id)
    group by receipts.currency
),

native as (
    select
        currency,
        coalesce(inputs.window_days, {{ kpi_window_days() }}) as window_days,
        coalesce(inputs.total_ar, 0) as total_ar,
        coalesce(inputs.current_ar, 0) as current_ar,
        coalesce(inputs.overdue_ar, 0) as overdue_ar,
        coalesce(inputs.net_credit_sales, 0) as net_credit_sales,
        coalesce(inputs.ar_at_window_start, 0) as ar_at_window_start,
        coalesce(inputs.collected_in_window, 0) as collected_in_window,
        coalesce(inputs.due_at_window_start, 0) + coalesce(inputs.falling_due_in_window, 0)
            as collectible_in_window,
        coalesce(auto_match.ar_receipts_amount, 0) as ar_receipts_amount,
        coalesce(auto_match.matcher_applied_amount, 0) as matcher_applied_amount
    from inputs
    full outer join auto_match using (currency)
),

ratios as (
    select
        native.*,
        round(total_ar * window_days / nullif(net_credit_sales, 0), 2) as dso,
        round(current_ar * window_days / nullif(net_credit_sales, 0), 2) as best_possible_dso,
        coalesce(countback.countback_dso, 0) as countback_dso,
        coalesce(countback.ar_exceeds_lookback, false) as countback_exceeds_lookback,
        round((ar_at_window_start + net_credit_sales - total_ar) * 100
              / nullif(ar_at_window_start + net_credit_sales - current_ar, 0), 4) as cei,
        round(collected_in_window / nullif(collectible_in_window, 0), 4) as collection_rate,
        round(matcher_applied_amount / nullif(ar_receipts_amount, 0), 4) as auto_match_rate
    from native
    left join countback using (currency)
),

bases as (
    select
        ratios.*,
        'native' as basis,
        ratios.currency as amount_currency,
        cast(1 as decimal(18, 6)) as fx_rate,
        false as missing_fx_rate
    from ratios
    union all
    select
        ratios.*,
        'reporting' as basis,
        {{ reporting_currency() }} as amount_currency,
        cast(rates.rate_to_reporting as decimal(18, 6)) as fx_rate,
        rates.rate_to_reporting is null as missing_fx_rate
    from ratios
    left join {{ ref('int_fx_rates_as_of') }} as rates using (currency)
)

select
    {{ as_of_date() }} as as_of_date,
    currency,
    basis,
    amount_currency,
    fx_rate,
    missing_fx_rate,
    cast(window_days as integer) as window_days,
    {%- for amount in ['total_ar', 'current_ar', 'net_credit_sales',
                       'ar_at_window_start', 'collected_in_window', 'collectible_in_window',
                       'ar_receipts_amount', 'matcher_applied_amount'] %}
    {{ to_money(amount ~ ' * fx_rate') }} as {{ amount }},
    {%- endfor %}
    -- overdue = total − current in both bases, so the parts add up after rounding
    cast({{ to_money('total_ar * fx_rate') }} - {{ to_money('current_ar * fx_rate') }} as decimal(18, 2)) as overdue_ar,
    cast(dso as decimal(18, 2)) as dso,
    cast(countback_dso as decimal(18, 2)) as countback_dso,
    countback_exceeds_lookback,
    cast(best_possible_dso as decimal(18, 2)) as best_possible_dso,
    cast(dso - best_possible_dso as decimal(18, 2)) as add_days,
    cast(cei as decimal(18, 4)) as cei,
    cast(collection_rate as decimal(18, 4)) as collection_rate,
    cast(auto_match_rate as decimal(18, 4)) as auto_match_rate
from bases
