with source as (
    select * from {{ source('raw', 'erp_ar_open_items') }}
),

renamed as (
    select
        as_of_date,
        invoice_id,
        {{ to_money('open_amount') }} as open_amount
    from {{ latest_version('source', ['as_of_date', 'invoice_id']) }}
)

select * from renamed
