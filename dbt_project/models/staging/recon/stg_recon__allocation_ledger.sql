{{ ledger_view_config() }}
with source as (
    select * from {{ source('recon', 'allocation_ledger') }}
),

renamed as (
    select
        event_seq,
        event_type,
        kind,
        run_id,
        as_of_date as recorded_as_of_date,
        recorded_at,
        transaction_id,
        invoice_id,
        amount,
        currency,
        effective_date,
        rule,
        rule_version,
        score,
        evidence,
        decided_by,
        reason
    from source
)

select * from renamed
