with source as (
    select * from {{ source('recon', 'receipt_outcomes') }}
),

renamed as (
    select
        as_of_date,
        run_id,
        transaction_id,
        payer_customer_id,
        payer_evidence,
        outcome,
        reason_code,
        candidates
    from source
)

select * from renamed
