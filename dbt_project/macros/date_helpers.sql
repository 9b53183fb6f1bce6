{# Whole days from start_date to end_date (end − start), as INTEGER; null when either is null. #}
{% macro days_between(start_date, end_date) -%}
    cast(date_diff('day', {{ start_date }}, {{ end_date }}) as integer)
{%- endmacro %}

{# The as-of date shifted by a number of days (negative = earlier), as a DATE. #}
{% macro as_of_date_minus(days) -%}
    cast({{ as_of_date() }} - {{ days }} as date)
{%- endmacro %}
