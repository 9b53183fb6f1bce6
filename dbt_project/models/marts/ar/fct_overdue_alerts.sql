-- One row per invoice open at the night's date and overdue threshold it has crossed
-- (var overdue_alert_thresholds, default 1 / 30 / 60 / 90 days past due with their
-- severities): first_crossed_date = due_date + threshold; crossed_tonight marks the ones
-- crossed on the night's date itself (what a reminder run sends). Disputed invoices are
-- flagged, not dropped.
-- A view: fct_ar_aging's open invoices times the thresholds they crossed, arithmetic only
-- (at 10M invoices 3.5M rows, a 5 s write); publishing writes it once into the analysts' file.
{{ config(materialized='view') }}

with open_invoices as (
    select * from {{ ref('fct_ar_aging') }}
    where open_amount > 0
),

thresholds as (
    select * from (
        values
        {%- for threshold in overdue_alert_thresholds() %}
            ({{ threshold.days | int }}, '{{ threshold.severity }}'){{ "," if not loop.last }}
        {%- endfor %}
    ) as t(threshold_days, severity)
)

select
    open_invoices.as_of_date,
    open_invoices.invoice_id,
    cast(thresholds.threshold_days as integer) as threshold_days,
    cast(open_invoices.due_date + thresholds.threshold_days as date) as first_crossed_date,
    open_invoices.due_date + thresholds.threshold_days = open_invoices.as_of_date as crossed_tonight,
    thresholds.severity,
    open_invoices.invoice_number,
    open_invoices.customer_id,
    open_invoices.salesperson_id,
    open_invoices.currency,
    open_invoices.due_date,
    open_invoices.open_amount,
    open_invoices.days_past_due,
    open_invoices.disputed
from open_invoices
inner join thresholds
    on open_invoices.days_past_due >= thresholds.threshold_days
