{{ config(meta={"dagster": {"ref": {"name": "fct_ar_aging"}}}) }}
-- Bucket totals equal total open AR per currency, where open AR is recomputed here from the
-- sources (invoices − credit notes − ledger), independently of the aging model.
with by_bucket as (
    select currency, sum(open_amount) as total
    from (
        select currency, aging_bucket, sum(open_amount) as open_amount
        from {{ ref('fct_ar_aging') }}
        group by currency, aging_bucket
    )
    group by currency
),

invoices as (
    select invoice_id, currency, amount
    from {{ ref('stg_erp__invoices') }}
    where status = 'issued' and issue_date <= {{ as_of_date() }}
),

credits as (
    select invoice_id, sum(amount) as amount
    from {{ ref('stg_erp__credit_notes') }}
    where issue_date <= {{ as_of_date() }}
    group by invoice_id
),

allocated as (
    select invoice_id, sum(amount) as amount
    from {{ ref('stg_recon__allocation_ledger') }}
    where effective_date <= {{ as_of_date() }}
    group by invoice_id
),

expected as (
    select invoices.currency,
           sum(invoices.amount - coalesce(credits.amount, 0) - coalesce(allocated.amount, 0)) as total
    from invoices
    left join credits using (invoice_id)
    left join allocated using (invoice_id)
    group by invoices.currency
)

select coalesce(e.currency, b.currency) as currency, e.total as expected, b.total as bucketed
from expected e
full outer join by_bucket b using (currency)
where coalesce(e.total, 0) <> coalesce(b.total, 0)
