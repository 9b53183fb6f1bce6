-- The invoices where the warehouse and the ERP disagree on the open amount at the night's
-- date D: the ERP's own open items delivered for D (ar_open_items) against the warehouse's
-- open amount. An invoice open on one side and absent from the other counts as 0 there.
-- Empty when the ERP delivered no open items for D.
with erp as (
    select invoice_id, open_amount
    from {{ ref('stg_erp__ar_open_items') }}
    where as_of_date = {{ as_of_date() }}
),

warehouse as (
    select invoice_id, invoice_number, customer_id, currency, open_amount
    from {{ ref('int_invoices_balanced') }}
),

compared as (
    select
        invoice_id,
        warehouse.invoice_number,
        warehouse.customer_id,
        warehouse.currency,
        warehouse.invoice_id is not null as in_warehouse,
        erp.invoice_id is not null as in_erp,
        cast(coalesce(warehouse.open_amount, 0) as decimal(18, 2)) as warehouse_open,
        cast(coalesce(erp.open_amount, 0) as decimal(18, 2)) as erp_open
    from warehouse
    full outer join erp using (invoice_id)
    -- no open items delivered for D: nothing to tie out
    where exists (select 1 from erp)
)

select
    {{ as_of_date() }} as as_of_date,
    invoice_id,
    invoice_number,
    customer_id,
    currency,
    warehouse_open,
    erp_open,
    cast(warehouse_open - erp_open as decimal(18, 2)) as difference,
    case
        when not in_warehouse then 'not_in_warehouse'
        when not in_erp then 'not_in_erp'
        else 'amount_differs'
    end as reason
from compared
where warehouse_open <> erp_open
