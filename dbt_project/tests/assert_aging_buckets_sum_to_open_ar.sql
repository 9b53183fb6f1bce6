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

-- the sum of (amount - credits - allocated) over the invoices, as three sums: no per-invoice
-- aggregate of the ledger to join (at 10M invoices about half the time)
expected as (
    select currency, sum(amount) as total
    from (
        select currency, amount from invoices
        union all
        select i.currency, -c.amount
        from {{ ref('stg_erp__credit_notes') }} c
        join invoices i using (invoice_id)
        where c.issue_date <= {{ as_of_date() }}
        union all
        select i.currency, -l.amount
        from {{ ref('stg_recon__allocation_ledger') }} l
        join invoices i using (invoice_id)
        where l.effective_date <= {{ as_of_date() }}
    )
    group by currency
)

select coalesce(e.currency, b.currency) as currency, e.total as expected, b.total as bucketed
from expected e
full outer join by_bucket b using (currency)
where coalesce(e.total, 0) <> coalesce(b.total, 0)
