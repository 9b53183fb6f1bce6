{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns',
        full_refresh=false,
        pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of_date = {{ as_of_date() }};
                  {{ log_unpublished_keys('select cast(' ~ as_of_date() ~ ' as varchar)') }}
                  {% else %}{{ log_unpublished_keys(none) }}{% endif %}"
    )
}}
-- Open AR per as_of_date × customer × salesperson × bucket × origin year × currency: one set
-- of rows per night. Each run replaces its own date's rows (the pre-hook also clears a date
-- that has nothing open any more), so a backfill over past dates, in any order, gives the
-- same rows as running each night. The date it wrote is logged for publishing, which copies
-- only that date's rows into the published file (pipelines/publish.py).
select
    as_of_date,
    customer_id,
    salesperson_id,
    aging_bucket,
    origin_year,
    currency,
    cast(sum(open_amount) as decimal(18, 2)) as open_amount,
    cast(count(*) as integer) as invoice_count
from {{ ref('fct_ar_aging') }}
group by all
