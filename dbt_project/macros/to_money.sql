{# Money to two decimals, rounding half to even (CONTRACT §1 "Types"), exact decimal throughout.
   The value is widened to DECIMAL(38,6) first, so large totals times 100 cannot overflow. #}
{% macro to_money(expr) -%}
    {%- set cents = "(cast(" ~ expr ~ " as decimal(38, 6)) * 100)" -%}
    cast(
        case
            when abs({{ cents }} - trunc({{ cents }})) = 0.5
                 and trunc({{ cents }}) % 2 = 0
            then trunc({{ cents }})
            else round({{ cents }})
        end / 100
    as decimal(18, 2))
{%- endmacro %}
