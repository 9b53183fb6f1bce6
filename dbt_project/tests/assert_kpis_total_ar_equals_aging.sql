{{ config(meta={"dagster": {"ref": {"name": "fct_ar_kpis"}}}) }}
-- The native KPIs' AR per currency equals the aging's bucket totals; current AR equals the
-- `current`-bucket-or-earlier part (days past due ≤ 0).
with kpis as (
    select currency, total_ar, current_ar
    from {{ ref('fct_ar_kpis') }}
    where basis = 'native'
),

aging as (
    select currency, sum(open_amount) as total_ar,
           coalesce(sum(open_amount) filter (where days_past_due <= 0), 0) as current_ar
    from {{ ref('fct_ar_aging') }}
    group by currency
)

select currency, kpis.total_ar, aging.total_ar as aging_total, kpis.current_ar,
       aging.current_ar as aging_current
from kpis
full outer join aging using (currency)
where coalesce(kpis.total_ar, 0) <> coalesce(aging.total_ar, 0)
   or coalesce(kpis.current_ar, 0) <> coalesce(aging.current_ar, 0)
