{# Settings of the AR marts, each a dbt var with its default here (override with --vars or in
   dbt_project.yml). One place, so the defaults are documented once. #}

{# The reporting currency of fct_ar_kpis (basis `reporting`): var reporting_currency, else the
   pipeline's ARW_REPORTING_CURRENCY, else EUR. As a SQL string literal. #}
{% macro reporting_currency() -%}
    '{{ var("reporting_currency", env_var("ARW_REPORTING_CURRENCY", "EUR")) | upper }}'
{%- endmacro %}

{# P, the length in days of the KPI window W (the P days ending at the as-of date). #}
{% macro kpi_window_days() -%}
    {{ var("kpi_window_days", 90) | int }}
{%- endmacro %}

{# The window of the auto-match rate: receipts effective in the N days ending at the as-of date. #}
{% macro auto_match_window_days() -%}
    {{ var("auto_match_window_days", 30) | int }}
{%- endmacro %}

{# How many calendar months countback DSO looks back (the current month counts as one). #}
{% macro countback_max_months() -%}
    {{ var("countback_max_months", 24) | int }}
{%- endmacro %}

{# Credit warning levels: utilization percentages; the level is the highest one reached. #}
{% macro credit_warning_levels() -%}
    {{ return(var("credit_warning_levels", [80, 90, 100]) | map("int") | sort | list) }}
{%- endmacro %}

{# Overdue alert thresholds: days past due and the severity of crossing them. #}
{% macro overdue_alert_thresholds() -%}
    {{ return(var("overdue_alert_thresholds", [
        {"days": 1, "severity": "info"},
        {"days": 30, "severity": "warning"},
        {"days": 60, "severity": "high"},
        {"days": 90, "severity": "critical"},
    ])) }}
{%- endmacro %}
