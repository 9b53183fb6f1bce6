-- Every invoice issued on or before the night's date D, with its balance as of D and, once
-- settled, when and how late: settled_date = the day its open amount first reached zero
-- (credit notes by issue date, allocations by value date); days_to_settle = settled_date −
-- issue_date; days_late = max(0, settled_date − due_date); both null while open.
-- A view over int_invoices_balanced (the table that holds the balances): the day counts are
-- arithmetic on its columns; publishing writes it once into the analysts' file.
{{ config(materialized='view') }}

with invoices as (
    select * from {{ ref('int_invoices_balanced') }}
)

select
    {{ as_of_date() }} as as_of_date,
    invoice_id,
    invoice_number,
    order_id,
    customer_id,
    salesperson_id,
    currency,
    issue_date,
    due_date,
    status,
    amount,
    credited_amount,
    allocated_amount,
    adjusted_amount,
    open_amount,
    status = 'issued' and open_amount <> 0 as is_open,
    settled_date,
    {{ days_between('issue_date', 'settled_date') }} as days_to_settle,
    case
        when settled_date is not null
        then greatest(0, {{ days_between('due_date', 'settled_date') }})
    end as days_late,
    case
        when status = 'issued' and open_amount <> 0
        then {{ days_between('due_date', as_of_date()) }}
    end as days_past_due,
    disputed,
    is_key_account
from invoices
