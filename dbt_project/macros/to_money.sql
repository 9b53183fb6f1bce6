{# Money to two decimals, rounding half to even (CONTRACT §1 "Types"), exact decimal throughout. #}
{% macro to_money(expr) -%}
    cast(
        case
            when abs({{ expr }} * 100 - trunc({{ expr }} * 100)) = 0.5
                 and trunc({{ expr }} * 100) % 2 = 0
            then trunc({{ expr }} * 100)
            else round({{ expr }} * 100)
        end / 100
    as decimal(18, 2))
{%- endmacro %}
