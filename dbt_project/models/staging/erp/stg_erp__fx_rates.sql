with source as (
    select * from {{ source('raw', 'erp_fx_rates') }}
),

renamed as (
    select
        "date" as rate_date,
        currency,
        rate_to_reporting
    from {{ latest_version('source', ['"date"', 'currency']) }}
)

select * from renamed
