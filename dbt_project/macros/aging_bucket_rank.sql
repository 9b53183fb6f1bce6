{# The position of a days-past-due expression's aging bucket (0 = the first bucket, `current` by
   default), for sorting buckets in order; var('aging_buckets') as in aging_bucket(). #}
{% macro aging_bucket_rank(days_past_due) -%}
    case
    {%- for bucket in var('aging_buckets') %}
        when {{ days_past_due }} <= {{ bucket.upper }} then {{ loop.index0 }}
    {%- endfor %}
        else {{ var('aging_buckets') | length }}
    end
{%- endmacro %}
