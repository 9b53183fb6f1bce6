with source as (
    select * from {{ source('raw', 'bank_statements') }}
),

renamed as (
    select
        statement_id,
        account,
        currency,
        sequence_number,
        from_date,
        to_date,
        opening_balance,
        closing_balance,
        entries_total,
        entry_count,
        balance_status,
        balance_difference,
        bank_format,
        _source_file as source_file,
        _file_hash as file_hash,
        _file_seq as file_seq
    from source
)

select * from renamed
