{{ config(meta={"dagster": {"ref": {"name": "fct_ar_aging_history"}}}) }}
-- The history's rows for the night's date are exactly the aging of that night, aggregated.
with history as (
    select customer_id, salesperson_id, aging_bucket, origin_year, currency, open_amount, invoice_count
    from {{ ref('fct_ar_aging_history') }}
    where as_of_date = {{ as_of_date() }}
),

aging as (
    select customer_id, salesperson_id, aging_bucket, origin_year, currency,
           sum(open_amount) as open_amount, count(*) as invoice_count
    from {{ ref('fct_ar_aging') }}
    group by all
)

(select 'only in history' as problem, * from history except select 'only in history', * from aging)
union all
(select 'only in aging', * from aging except select 'only in aging', * from history)
