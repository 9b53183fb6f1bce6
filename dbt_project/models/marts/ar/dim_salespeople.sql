-- One row per salesperson (the latest master data delivered).
select
    salesperson_id,
    name,
    team,
    manager_id
from {{ ref('stg_erp__salespeople') }}
