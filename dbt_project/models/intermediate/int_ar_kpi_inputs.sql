-- The amounts the AR KPIs are made of, per currency, as of the night's date D, for the window
-- W = the P days ending at D (D−P+1 … D; P = var kpi_window_days, default 90) — CONTRACT §4.
-- The window "starts" at the end of D−P: AR at the start of W is the open amount as of D−P.
with invoices as (
    select invoice_id, currency, amount, issue_date, due_date, open_amount
    from {{ ref('int_invoices_balanced') }}
    where status = 'issued'
),

reduced_before_window as (
    select invoice_id, sum(amount) as reduced
    from {{ ref('int_invoice_events') }}
    where event_date <= {{ as_of_date_minus(kpi_window_days()) }}
    group by invoice_id
),

balances as (
    select
        invoices.*,
        -- open at the start of W; an invoice issued within W counts its whole amount
        invoices.amount - coalesce(reduced_before_window.reduced, 0) as open_at_window_start
    from invoices
    left join reduced_before_window using (invoice_id)
),

ar as (
    select
        currency,
        sum(open_amount) as total_ar,
        sum(open_amount) filter (where due_date >= {{ as_of_date() }}) as current_ar,
        sum(open_at_window_start) filter (
            where issue_date <= {{ as_of_date_minus(kpi_window_days()) }}
        ) as ar_at_window_start,
        sum(open_at_window_start) filter (
            where issue_date <= {{ as_of_date_minus(kpi_window_days()) }}
              and due_date <= {{ as_of_date_minus(kpi_window_days()) }}
        ) as due_at_window_start,
        sum(open_at_window_start) filter (
            where due_date > {{ as_of_date_minus(kpi_window_days()) }}
              and due_date <= {{ as_of_date() }}
        ) as falling_due_in_window,
        sum(amount) filter (
            where issue_date > {{ as_of_date_minus(kpi_window_days()) }}
        ) as invoiced_in_window
    from balances
    group by currency
),

credited as (
    select currency, sum(amount) as credited_in_window
    from {{ ref('stg_erp__credit_notes') }}
    where issue_date > {{ as_of_date_minus(kpi_window_days()) }}
      and issue_date <= {{ as_of_date() }}
    group by currency
),

collected as (
    select currency, sum(collected_amount) as collected_in_window
    from {{ ref('int_collections') }}
    where value_date > {{ as_of_date_minus(kpi_window_days()) }}
    group by currency
),

currencies as (
    select currency from ar
    union
    select currency from credited
    union
    select currency from collected
)

select
    currencies.currency,
    cast({{ kpi_window_days() }} as integer) as window_days,
    cast(coalesce(ar.total_ar, 0) as decimal(18, 2)) as total_ar,
    cast(coalesce(ar.current_ar, 0) as decimal(18, 2)) as current_ar,
    cast(coalesce(ar.total_ar, 0) - coalesce(ar.current_ar, 0) as decimal(18, 2)) as overdue_ar,
    cast(coalesce(ar.ar_at_window_start, 0) as decimal(18, 2)) as ar_at_window_start,
    cast(coalesce(ar.invoiced_in_window, 0) as decimal(18, 2)) as invoiced_in_window,
    cast(coalesce(credited.credited_in_window, 0) as decimal(18, 2)) as credited_in_window,
    cast(coalesce(ar.invoiced_in_window, 0) - coalesce(credited.credited_in_window, 0)
         as decimal(18, 2)) as net_credit_sales,
    cast(coalesce(collected.collected_in_window, 0) as decimal(18, 2)) as collected_in_window,
    cast(coalesce(ar.due_at_window_start, 0) as decimal(18, 2)) as due_at_window_start,
    cast(coalesce(ar.falling_due_in_window, 0) as decimal(18, 2)) as falling_due_in_window
from currencies
left join ar using (currency)
left join credited using (currency)
left join collected using (currency)
