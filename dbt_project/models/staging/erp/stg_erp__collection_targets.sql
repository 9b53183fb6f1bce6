with source as (
    select * from {{ source('raw', 'erp_collection_targets') }}
),

renamed as (
    select
        salesperson_id,
        period,
        currency,
        {{ to_money('target_amount') }} as target_amount
    from {{ latest_version('source', ['salesperson_id', 'period', 'currency']) }}
)

select * from renamed
