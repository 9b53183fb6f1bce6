{{ raw_upsert_config('erp_credit_notes', 'credit_note_id') }}

with source as (
    select * from {{ source('raw', 'erp_credit_notes') }}
    {{- delivered_since_last_build('erp_credit_notes', 'credit_note_id') }}
),

renamed as (
    select
        credit_note_id,
        invoice_id,
        customer_id,
        issue_date,
        currency,
        {{ to_money('amount') }} as amount
    from {{ latest_version('source', ['credit_note_id']) }}
)

select * from renamed
