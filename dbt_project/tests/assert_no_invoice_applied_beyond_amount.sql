{{ config(meta={"dagster": {"ref": {"name": "int_invoices_balanced"}}}) }}
-- No invoice has more allocated than its amount, and nothing is applied to a cancelled invoice.
select invoice_id, amount, allocated_amount, status
from {{ ref('int_invoices_balanced') }}
where allocated_amount > amount
   or (status = 'cancelled' and allocated_amount <> 0)
