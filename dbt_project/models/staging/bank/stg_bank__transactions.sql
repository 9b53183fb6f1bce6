{{ config(
    pre_hook="{{ log_delivered_keys('bank_transactions', 'transaction_id') }}",
    post_hook="{{ save_raw_watermark('bank_transactions') }}",
    meta={'changed_keys': 'transaction_id'},
) }}
-- The hooks log the transactions taken in since the last build, which its tests check
-- (the raw table is append-only: a transaction once taken in never changes).
-- raw.bank_transactions holds each transaction_id once (the ingest step skips known ids).
-- _row: the raw row's id, for reading a few transactions in two steps
-- (rows_where); valid within one query only.
with source as (
    select rowid as _row, * from {{ source('raw', 'bank_transactions') }}
),

renamed as (
    select
        transaction_id,
        bank_reference,
        account,
        statement_id,
        sequence_number,
        booking_date,
        value_date,
        effective_date,
        {{ to_money('amount') }} as amount,
        currency,
        counterparty_name,
        counterparty_account,
        remittance_info,
        structured_reference,
        nullif(end_to_end_id, '') as end_to_end_id,
        coalesce(is_reversal, false) as is_reversal,
        nullif(reversal_of, '') as reversal_of,
        nullif(return_reason, '') as return_reason,
        bank_format,
        source_file,
        _loaded_at as loaded_at,
        _row
    from source
)

select * from renamed
