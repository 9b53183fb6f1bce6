{# Upsert by key over an append-only raw table: the latest version of each key wins
   (latest updated_at, then the latest file, then the latest line). #}
{% macro latest_version(key_columns) -%}
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by updated_at desc nulls last, _file_seq desc, _line_number desc
    ) = 1
{%- endmacro %}
