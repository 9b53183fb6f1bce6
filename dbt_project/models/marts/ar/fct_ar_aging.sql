-- Every invoice open at the night's date, aged by days past due.
with open_invoices as (
    select * from {{ ref('int_invoices_balanced') }}
    where open_amount <> 0
)

select
    {{ as_of_date() }} as as_of_date,
    invoice_id,
    invoice_number,
    customer_id,
    salesperson_id,
    currency,
    amount as invoice_amount,
    open_amount,
    due_date,
    date_diff('day', due_date, {{ as_of_date() }}) as days_past_due,
    {{ aging_bucket("date_diff('day', due_date, " ~ as_of_date() ~ ")") }} as aging_bucket,
    year(issue_date) as origin_year,
    is_key_account,
    disputed
from open_invoices
