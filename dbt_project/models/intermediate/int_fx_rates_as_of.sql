-- The rate to the reporting currency that applies at the night's date: per currency, the
-- latest rate on or before the date (CONTRACT §1 fx_rates). The reporting currency itself
-- is 1. A currency without a rate has no row here (it is shown as missing, never guessed).
with rates as (
    select rate_date, currency, rate_to_reporting
    from {{ ref('stg_erp__fx_rates') }}
    where rate_date <= {{ as_of_date() }}
      and currency <> {{ reporting_currency() }}
    qualify row_number() over (partition by currency order by rate_date desc) = 1
),

reporting as (
    select
        cast(null as date) as rate_date,
        {{ reporting_currency() }} as currency,
        1 as rate_to_reporting
)

select
    currency,
    rate_date,
    cast(rate_to_reporting as decimal(38, 6)) as rate_to_reporting,
    currency = {{ reporting_currency() }} as is_reporting_currency
from (
    select * from rates
    union all
    select * from reporting
)
