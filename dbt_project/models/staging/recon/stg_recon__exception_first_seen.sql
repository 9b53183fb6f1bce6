select
    transaction_id,
    first_seen_date
from {{ source('recon', 'exception_first_seen') }}
