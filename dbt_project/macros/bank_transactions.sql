{# The bank transactions (stg_bank__transactions, without `_row`) that meet `condition`. With
   `few`, in two steps: find their rows reading only the columns of the condition, then read
   every column of those rows only. A scan filtered by a join or an IN-subquery reads every
   column of every row first, and the text columns (counterparty, remittance) of 10M
   transactions are most of the cost when a few thousand are wanted: at 10M, 7 s -> 2 s for
   50,000 transactions, 9 s -> 4 s for 584,000. For most of the table, one step is cheaper. #}
{% macro bank_transactions_where(condition, few=true) -%}
    {%- set transactions = ref('stg_bank__transactions') -%}
    {%- if few -%}
    select * exclude (_row) from {{ transactions }}
    where _row in (select _row from {{ transactions }} where {{ condition }})
    {%- else -%}
    select * exclude (_row) from {{ transactions }} where {{ condition }}
    {%- endif -%}
{%- endmacro %}
