-- One row per sales order placed on or before the night's date (int_order_to_cash, kept
-- per order from night to night) with the night's date. A view: the published file has it
-- as a table.
{{ config(materialized='view') }}

select
    {{ as_of_date() }} as as_of_date,
    *
from {{ ref('int_order_to_cash') }}
