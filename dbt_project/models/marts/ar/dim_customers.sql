select
    customer_id,
    name,
    salesperson_id,
    credit_limit,
    is_key_account,
    currency,
    country,
    payment_terms_days
from {{ ref('stg_erp__customers') }}
