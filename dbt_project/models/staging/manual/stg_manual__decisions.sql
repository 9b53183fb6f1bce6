with source as (
    select * from {{ source('raw', 'manual_decisions') }}
),

renamed as (
    select
        nullif(transaction_id, '') as transaction_id,
        nullif(bank_reference, '') as bank_reference,
        action,
        invoice_number,
        invoice_id,
        {{ to_money('amount') }} as amount,
        currency,
        decided_by,
        decided_at,
        note,
        _source_file as source_file,
        _file_seq as file_seq,
        _line_number as line_number
    from source
)

select * from renamed
