{{ raw_upsert_config('erp_invoices', 'invoice_id') }}

with source as (
    select * from {{ source('raw', 'erp_invoices') }}
    {{- delivered_since_last_build('erp_invoices', 'invoice_id') }}
),

renamed as (
    select
        invoice_id,
        invoice_number,
        order_id,
        customer_id,
        salesperson_id,
        issue_date,
        due_date,
        currency,
        {{ to_money('amount') }} as amount,
        status,
        coalesce(disputed, false) as disputed,
        -- the matcher's look-up key of the number, computed once per delivered invoice
        -- (pipelines/reconcile/evidence.py: nonzero_digits, which must stay the same)
        regexp_replace(invoice_number, '[^1-9]', '', 'g') as invoice_number_digits
    from {{ latest_version('source', ['invoice_id']) }}
)

select * from renamed
