-- Collections split per salesperson × month × currency × key / non-key account × origin year
-- (the year the paid invoice was issued): the same cash as fct_collections_vs_target.
select
    {{ as_of_date() }} as as_of_date,
    salesperson_id,
    period,
    month_start,
    currency,
    is_key_account,
    origin_year,
    cast(sum(collected_amount) as decimal(18, 2)) as collected_amount
from {{ ref('int_collections') }}
group by all
