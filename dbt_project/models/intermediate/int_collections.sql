{{ keyed_incremental_config('invoice_id', 'invoices_changed_since_last_build',
                            ['erp_invoices', 'erp_credit_notes', 'erp_customers']) }}
-- depends_on: {{ ref('stg_recon__allocation_ledger') }}
-- depends_on: {{ ref('stg_erp__credit_notes') }}
-- depends_on: {{ ref('stg_erp__invoices') }}
-- Incremental: a night recomputes only the rows of the invoices its new data can change
-- (invoices_changed_since_last_build), the same set as int_invoices_balanced's.
-- Cash collected: every allocation (and reversal) in force at the night's date, on its value
-- date (the ledger's effective date), with what the collection marts group by. Credited to
-- the invoice's salesperson, else the customer's (as int_invoices_balanced resolves it).
with allocations as (
    select invoice_id, event_date as value_date, amount
    from {{ ref('int_invoice_events') }}
    where event_type = 'allocation' and {{ recompute_only('invoice_id') }}
),

invoices as (
    select invoice_id, customer_id, salesperson_id, currency, issue_date, is_key_account
    from {{ ref('int_invoices_balanced') }}
    where {{ recompute_only('invoice_id') }}
)

select
    allocations.invoice_id,
    invoices.customer_id,
    invoices.salesperson_id,
    invoices.currency,
    allocations.value_date,
    strftime(allocations.value_date, '%Y-%m') as period,
    cast(date_trunc('month', allocations.value_date) as date) as month_start,
    invoices.is_key_account,
    cast(year(invoices.issue_date) as integer) as origin_year,
    allocations.amount as collected_amount
from allocations
inner join invoices using (invoice_id)
