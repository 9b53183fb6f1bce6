{{ config(meta={"dagster": {"ref": {"name": "fct_invoices"}}}) }}
-- The invoices open in fct_invoices are the rows of fct_ar_aging, with the same open amounts.
with invoices as (
    select invoice_id, open_amount from {{ ref('fct_invoices') }} where is_open
),

aging as (
    select invoice_id, open_amount from {{ ref('fct_ar_aging') }}
)

select coalesce(i.invoice_id, a.invoice_id) as invoice_id, i.open_amount as invoices_open,
       a.open_amount as aging_open
from invoices i
full outer join aging a using (invoice_id)
where i.open_amount is distinct from a.open_amount
