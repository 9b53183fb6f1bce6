{{ raw_upsert_config('erp_orders', 'order_id') }}

with source as (
    select * from {{ source('raw', 'erp_orders') }}
    {{- delivered_since_last_build('erp_orders', 'order_id') }}
),

renamed as (
    select
        order_id,
        customer_id,
        salesperson_id,
        order_date,
        currency,
        {{ to_money('amount') }} as amount,
        status
    from {{ latest_version('source', ['order_id']) }}
)

select * from renamed
