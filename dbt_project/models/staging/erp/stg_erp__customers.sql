with source as (
    select * from {{ source('raw', 'erp_customers') }}
),

renamed as (
    select
        customer_id,
        name,
        country,
        currency,
        {{ to_money('credit_limit') }} as credit_limit,
        payment_terms_days,
        salesperson_id,
        coalesce(is_key_account, false) as is_key_account,
        bank_accounts,
        aliases,
        updated_at
    from {{ latest_version('source', ['customer_id']) }}
)

select * from renamed
