with source as (
    select * from {{ source('raw', 'erp_salespeople') }}
),

renamed as (
    select salesperson_id, name, team, manager_id
    from {{ latest_version('source', ['salesperson_id']) }}
)

select * from renamed
