-- Credit exposure per customer at the night's date, in the customer's currency: open AR +
-- open orders (for each order still open: order amount − what is invoiced of it, never below
-- zero), against the credit limit. Amounts in another currency are converted through the
-- rates to the reporting currency (latest on or before the date); without a rate the
-- exposure is not guessed: null, with missing_fx_rate. warning_level = the highest of the
-- levels in var credit_warning_levels (default 80, 90, 100) that utilization reaches.
{%- set levels = credit_warning_levels() %}
with customers as (
    select customer_id, name, currency, credit_limit
    from {{ ref('stg_erp__customers') }}
),

invoices as (
    select invoice_id, order_id, customer_id, currency, amount, open_amount
    from {{ ref('int_invoices_balanced') }}
    where status = 'issued'
),

orders as (
    select order_id, customer_id, currency, amount
    from {{ ref('stg_erp__orders') }}
    where status = 'open'
      and order_date <= {{ as_of_date() }}
),

-- (only the open orders' invoices are summed, and only open invoices are converted: a
-- settled invoice adds nothing, whatever the rate)
invoiced_per_order as (
    select order_id, sum(amount) as invoiced_amount
    from invoices
    where order_id in (select order_id from orders)
    group by order_id
),

open_orders as (
    select
        orders.customer_id,
        orders.currency,
        greatest(orders.amount - coalesce(invoiced_per_order.invoiced_amount, 0), 0) as open_amount
    from orders
    left join invoiced_per_order using (order_id)
),

items as (
    select customer_id, currency, 'ar' as kind, open_amount from invoices where open_amount <> 0
    union all
    select customer_id, currency, 'order' as kind, open_amount from open_orders
),

rates as (
    select currency, rate_to_reporting from {{ ref('int_fx_rates_as_of') }}
),

converted as (
    select
        items.customer_id,
        items.kind,
        case
            when items.currency = customers.currency then items.open_amount
            else {{ to_money('items.open_amount * item_rate.rate_to_reporting / customer_rate.rate_to_reporting') }}
        end as amount
    from items
    inner join customers using (customer_id)
    left join rates as item_rate on item_rate.currency = items.currency
    left join rates as customer_rate on customer_rate.currency = customers.currency
),

per_customer as (
    select
        customer_id,
        -- a sum with a missing conversion is unknown, not smaller
        case when count(*) filter (where kind = 'ar' and amount is null) = 0
             then coalesce(sum(amount) filter (where kind = 'ar'), 0) end as open_ar,
        case when count(*) filter (where kind = 'order' and amount is null) = 0
             then coalesce(sum(amount) filter (where kind = 'order'), 0) end as open_orders,
        count(*) filter (where amount is null) > 0 as missing_fx_rate
    from converted
    group by customer_id
),

exposure as (
    select
        customers.customer_id,
        customers.name as customer_name,
        customers.currency,
        customers.credit_limit,
        cast(coalesce(per_customer.open_ar, case when per_customer.customer_id is null then 0 end)
             as decimal(18, 2)) as open_ar,
        cast(coalesce(per_customer.open_orders, case when per_customer.customer_id is null then 0 end)
             as decimal(18, 2)) as open_orders,
        coalesce(per_customer.missing_fx_rate, false) as missing_fx_rate
    from customers
    left join per_customer using (customer_id)
),

utilization as (
    select
        *,
        cast(open_ar + open_orders as decimal(18, 2)) as exposure,
        cast(
            case
                when credit_limit > 0 then round((open_ar + open_orders) * 100 / credit_limit, 4)
            end
        as decimal(18, 4)) as utilization_pct
    from exposure
)

select
    {{ as_of_date() }} as as_of_date,
    customer_id,
    customer_name,
    currency,
    credit_limit,
    open_ar,
    open_orders,
    exposure,
    utilization_pct,
    case
        -- a limit of zero: any exposure is over it
        when credit_limit = 0 and exposure > 0 then '{{ levels | last }}'
    {%- for level in levels | reverse %}
        when utilization_pct >= {{ level }} then '{{ level }}'
    {%- endfor %}
        else 'none'
    end as warning_level,
    missing_fx_rate
from utilization
