{# The aging bucket label for a days-past-due expression, from var('aging_buckets'). #}
{% macro aging_bucket(days_past_due) -%}
    case
    {%- for bucket in var('aging_buckets') %}
        when {{ days_past_due }} <= {{ bucket.upper }} then '{{ bucket.label }}'
    {%- endfor %}
        else '{{ var("over_last_bucket") }}'
    end
{%- endmacro %}
