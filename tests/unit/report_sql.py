"""What the report's sections should show, written independently of the report's code (as SQL
over the published marts), for the unit and the browser tests to compare against."""

# The ten customers with the most overdue AR, ranked in the reporting currency (amounts with
# no rate last), each as (customer_id, currency, overdue amount in its own currency).
TOP_OVERDUE_SQL = """
    WITH overdue AS (
        SELECT customer_id, currency, sum(open_amount) AS amount FROM marts.fct_ar_aging
        WHERE days_past_due > 0 GROUP BY ALL
    ), fx AS (
        SELECT currency, fx_rate FROM marts.fct_ar_kpis
        WHERE basis = 'reporting' AND NOT missing_fx_rate
    )
    SELECT customer_id, currency, amount FROM overdue LEFT JOIN fx USING (currency)
    ORDER BY round(amount * fx_rate, 2) DESC NULLS LAST, amount DESC, customer_id, currency
    LIMIT 10"""
