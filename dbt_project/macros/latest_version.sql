{# Upsert by key over an append-only raw table: the latest version of each key wins
   (latest updated_at, then the latest file, then the latest line).

   Used as `from {{ latest_version('source', ['key']) }}`. Most keys are delivered once: they
   are kept as they are, and only the keys delivered more than once (found by a group-by) are
   ranked by the window, so a night does not sort every version ever delivered (10 million
   invoices). Same result as ranking every key. #}
{% macro latest_version(relation, key_columns) -%}
    {%- set keys = key_columns | join(', ') -%}
    {%- set matches = [] -%}
    {%- for key in key_columns -%}
        {%- do matches.append('_multi.' ~ key ~ ' is not distinct from _version.' ~ key) -%}
    {%- endfor -%}
    (
        with _versions as (
            select * from {{ relation }}
        ),

        _multi as (
            select {{ keys }} from _versions group by {{ keys }} having count(*) > 1
        )

        select * from _versions as _version
        where not exists (select 1 from _multi where {{ matches | join(' and ') }})
        union all
        select * from (
            select * from _versions as _version
            where exists (select 1 from _multi where {{ matches | join(' and ') }})
            qualify row_number() over (
                partition by {{ keys }}
                order by updated_at desc nulls last, _file_seq desc, _line_number desc
            ) = 1
        )
    ) as latest
{%- endmacro %}
