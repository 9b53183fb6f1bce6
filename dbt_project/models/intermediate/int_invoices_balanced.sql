-- Every invoice issued on or before the night's date with its open amount as of that date:
-- amount − credit notes − allocations (net of reversals) − adjustments, each dated on or
-- before the date (CONTRACT §4).
with invoices as (
    select * from {{ ref('stg_erp__invoices') }}
    where issue_date <= {{ as_of_date() }}
),

credits as (
    select invoice_id, sum(amount) as credited_amount
    from {{ ref('stg_erp__credit_notes') }}
    where invoice_id is not null and issue_date <= {{ as_of_date() }}
    group by invoice_id
),

allocations as (
    select invoice_id, sum(amount) as allocated_amount
    from {{ ref('stg_recon__allocation_ledger') }}
    where effective_date <= {{ as_of_date() }}
    group by invoice_id
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
        coalesce(credits.credited_amount, 0) as credited_amount,
        coalesce(allocations.allocated_amount, 0) as allocated_amount,
        cast(0 as decimal(18, 2)) as adjusted_amount
    from invoices
    left join credits using (invoice_id)
    left join allocations using (invoice_id)
    left join customers using (customer_id)
)

select
    *,
    case
        when status = 'cancelled' then cast(0 as decimal(18, 2))
        else amount - credited_amount - allocated_amount - adjusted_amount
    end as open_amount
from balanced
