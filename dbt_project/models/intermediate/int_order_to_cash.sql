{{ keyed_incremental_config('order_id', 'orders_changed_since_last_build',
                            ['erp_orders', 'erp_invoices', 'erp_credit_notes', 'erp_customers']) }}
-- depends_on: {{ ref('stg_recon__allocation_ledger') }}
-- depends_on: {{ ref('stg_erp__credit_notes') }}
-- depends_on: {{ ref('stg_erp__invoices') }}
-- Incremental: a night recomputes only the orders its new data can change
-- (orders_changed_since_last_build); fct_order_to_cash adds the as-of date.
-- One row per sales order placed on or before the night's date: what is invoiced and
-- collected of it, and how long each step took. An order is fully collected when nothing
-- more will be invoiced (status invoiced or cancelled), it has invoices, and every one of
-- them is settled; fully_collected_date is the day the last of them settled.
with orders as (
    {{ changed_rows(ref('stg_erp__orders'), 'order_id', 'order_date <= ' ~ as_of_date()) }}
),

customers as (
    select customer_id, salesperson_id from {{ ref('stg_erp__customers') }}
),

invoices as (
    {{ changed_rows(ref('int_invoices_balanced'), 'order_id', "status = 'issued' and order_id is not null") }}
),

per_order as (
    select
        order_id,
        count(*) as invoice_count,
        sum(amount) as invoiced_amount,
        sum(allocated_amount) as collected_amount,
        sum(open_amount) as open_amount,
        min(issue_date) as first_invoice_date,
        bool_and(settled_date is not null) as all_settled,
        max(settled_date) as last_settled_date
    from invoices
    group by order_id
),

joined as (
    select
        orders.* exclude (salesperson_id),
        coalesce(orders.salesperson_id, customers.salesperson_id) as salesperson_id,
        coalesce(per_order.invoice_count, 0) as invoice_count,
        per_order.invoiced_amount,
        per_order.collected_amount,
        per_order.open_amount as invoices_open_amount,
        per_order.first_invoice_date,
        coalesce(orders.status <> 'open' and per_order.all_settled, false) as is_fully_collected,
        per_order.last_settled_date
    from orders
    left join customers using (customer_id)
    left join per_order using (order_id)
)

select
    order_id,
    customer_id,
    salesperson_id,
    order_date,
    status,
    currency,
    amount as order_amount,
    cast(invoice_count as integer) as invoice_count,
    cast(coalesce(invoiced_amount, 0) as decimal(18, 2)) as invoiced_amount,
    cast(coalesce(collected_amount, 0) as decimal(18, 2)) as collected_amount,
    cast(coalesce(invoices_open_amount, 0) as decimal(18, 2)) as open_amount,
    first_invoice_date,
    case when is_fully_collected then last_settled_date end as fully_collected_date,
    {{ days_between('order_date', 'first_invoice_date') }} as days_order_to_invoice,
    case
        when is_fully_collected then {{ days_between('first_invoice_date', 'last_settled_date') }}
    end as days_invoice_to_cash,
    is_fully_collected
from joined
