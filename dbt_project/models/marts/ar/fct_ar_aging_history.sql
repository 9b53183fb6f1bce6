{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns',
        full_refresh=false,
        pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of_date = {{ as_of_date() }}{% endif %}"
    )
}}
-- Open AR per as_of_date × customer × salesperson × bucket × origin year × currency: one set
-- of rows per night. Each run replaces its own date's rows (the pre-hook also clears a date
-- that has nothing open any more), so a backfill over past dates, in any order, gives the
-- same rows as running each night.
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
