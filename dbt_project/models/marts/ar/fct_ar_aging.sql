-- Every invoice open at the night's date, aged by days past due.
with open_invoices as (
    select * from {{ ref('int_invoices_balanced') }}
    where status = 'issued' and open_amount <> 0
),

aged as (
    select
        *,
        {{ days_between('due_date', as_of_date()) }} as days_past_due
    from open_invoices
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
    days_past_due,
    {{ aging_bucket('days_past_due') }} as aging_bucket,
    cast(year(issue_date) as integer) as origin_year,
    is_key_account,
    disputed,
    issue_date,
    {{ aging_bucket_rank('days_past_due') }} as aging_bucket_rank
from aged
