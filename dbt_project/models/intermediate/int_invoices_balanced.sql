{{ keyed_incremental_config('invoice_id', 'invoices_changed_since_last_build',
                            ['erp_invoices', 'erp_credit_notes', 'erp_customers']) }}
-- depends_on: {{ ref('stg_recon__allocation_ledger') }}
-- depends_on: {{ ref('stg_erp__credit_notes') }}
-- Incremental: a night recomputes only the invoices its new data can change
-- (invoices_changed_since_last_build); the rows equal a full build's.
-- Every invoice issued on or before the night's date with its open amount as of that date:
-- amount − credit notes − allocations (net of reversals) − adjustments, each dated on or
-- before the date (CONTRACT §4), and the date its open amount first reached zero.
with invoices as (
    {{ changed_rows(ref('stg_erp__invoices'), 'invoice_id', 'issue_date <= ' ~ as_of_date()) }}
),

events as (
    select * from {{ ref('int_invoice_events') }}
    where {{ recompute_only('invoice_id') }}
),

-- per invoice: credit notes, allocations and adjustments to date, and the first day the
-- amount taken off (walking the days with an event in order) reached the invoice's amount
per_day as (
    select
        invoice_id,
        event_date,
        sum(amount) filter (where event_type = 'credit_note') as credited,
        sum(amount) filter (where event_type = 'allocation') as allocated,
        sum(amount) filter (where event_type = 'adjustment') as adjusted,
        sum(sum(amount)) over (
            partition by invoice_id order by event_date
            rows between unbounded preceding and current row
        ) as reduced_to_date
    from events
    group by invoice_id, event_date
),

totals as (
    select
        per_day.invoice_id,
        sum(per_day.credited) as credited_amount,
        sum(per_day.allocated) as allocated_amount,
        sum(per_day.adjusted) as adjusted_amount,
        min(per_day.event_date) filter (
            where invoices.amount - per_day.reduced_to_date <= 0
        ) as first_zero_date
    from per_day
    inner join invoices using (invoice_id)
    group by per_day.invoice_id
),

customers as (
    select customer_id, salesperson_id, is_key_account
    from {{ ref('stg_erp__customers') }}
),

balanced as (
    select
        invoices.invoice_id,
        invoices.invoice_number,
        invoices.order_id,
        invoices.customer_id,
        coalesce(invoices.salesperson_id, customers.salesperson_id) as salesperson_id,
        invoices.currency,
        invoices.issue_date,
        invoices.due_date,
        invoices.status,
        invoices.disputed,
        coalesce(customers.is_key_account, false) as is_key_account,
        invoices.amount,
        cast(coalesce(totals.credited_amount, 0) as decimal(18, 2)) as credited_amount,
        cast(coalesce(totals.allocated_amount, 0) as decimal(18, 2)) as allocated_amount,
        cast(coalesce(totals.adjusted_amount, 0) as decimal(18, 2)) as adjusted_amount,
        totals.first_zero_date
    from invoices
    left join totals using (invoice_id)
    left join customers using (customer_id)
),

with_open as (
    select
        *,
        case
            when status = 'cancelled' then cast(0 as decimal(18, 2))
            else cast(amount - credited_amount - allocated_amount - adjusted_amount as decimal(18, 2))
        end as open_amount
    from balanced
)

select
    invoice_id,
    invoice_number,
    order_id,
    customer_id,
    salesperson_id,
    currency,
    issue_date,
    due_date,
    status,
    disputed,
    is_key_account,
    amount,
    credited_amount,
    allocated_amount,
    adjusted_amount,
    open_amount,
    -- settled: an issued invoice whose open amount is zero (or below) at the date; the day
    -- it first got there (never before its issue date). Null while open and when cancelled.
    case
        when status = 'issued' and open_amount <= 0
        then greatest(first_zero_date, issue_date)
    end as settled_date
from with_open
