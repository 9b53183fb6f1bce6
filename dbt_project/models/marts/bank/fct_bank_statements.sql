-- One row per bank statement taken in (CONTRACT §1: statement_id and sequence_number
-- "where given (gaps are flagged)"; §2: the balance check), dated on or before the night's
-- date (or undated).
--
-- Sequence check, per account, currency and message type (mt940, mt942, camt.053, …):
--   * the statement number is the statement part of MT940/MT942 :28C: ('5/1' → 5, page 1;
--     ':28:' '00012' → 12) or the camt ElctrncSeqNb / LglSeqNb as given; other formats
--     (BAI2, OFX, CSV) carry no statement number → not_checkable, as is a number that is
--     not a whole number, or a statement that names no account (whose sequence is it?);
--   * numbers are compared in numeric order within the statement year (the year of its
--     closing date), because many banks restart at 1 every January: the first number of a
--     year continues the previous year's last number or restarts at 1, otherwise the
--     numbers in between are missing;
--   * gap: numbers are missing before this one (missing_sequence_numbers lists them);
--   * duplicate: the same number (and page) was already taken in, from an earlier file or
--     earlier in the same file; pages of one statement (5/1, 5/2) are not duplicates.
with statements as (
    select * from {{ ref('stg_bank__statements') }}
    where coalesce(to_date, from_date) is null
       or coalesce(from_date, to_date) <= {{ as_of_date() }}
),

numbered as (
    select
        *,
        case
            when bank_format in ('mt940', 'mt942') then try_cast(regexp_extract(
                trim(sequence_number), '^0*(\d{1,18})(?:\s*/\s*\d{1,9})?$', 1) as bigint)
            when bank_format like 'camt.%' then try_cast(regexp_extract(
                trim(sequence_number), '^0*(\d{1,18})$', 1) as bigint)
        end as statement_number,
        case
            when bank_format in ('mt940', 'mt942') then try_cast(regexp_extract(
                trim(sequence_number), '^\d{1,18}\s*/\s*0*(\d{1,9})$', 1) as bigint)
        end as page_number,
        year(coalesce(to_date, from_date)) as sequence_year,
        nullif(trim(account), '') is not null as has_account
    from statements
),

keyed as (
    select
        *,
        -- statements that agree on all of these are indistinguishable: their order is moot
        row_number() over (
            partition by file_hash, statement_id, account, currency, bank_format,
                sequence_number, from_date, to_date
            order by opening_balance, closing_balance, entries_total, entry_count
        ) as occurrence
    from numbered
),

identified as (
    select
        *,
        -- from the file's content, not from when it arrived: the same statement has the same
        -- key however the files were split across nights
        md5(concat_ws(chr(31),
            file_hash, coalesce(statement_id, ''), coalesce(account, ''),
            coalesce(currency, ''), coalesce(bank_format, ''), coalesce(sequence_number, ''),
            coalesce(cast(from_date as varchar), ''), coalesce(cast(to_date as varchar), ''),
            cast(occurrence as varchar)
        )) as statement_key
    from keyed
),

ranked as (
    -- the first statement taken in with a number (and page) is the original, later ones
    -- are duplicates
    select
        *,
        case when statement_number is not null and has_account then row_number() over (
            partition by account, currency, bank_format, sequence_year, statement_number,
                coalesce(page_number, -1)
            order by file_seq, statement_key
        ) end as taken_in_rank
    from identified
),

numbers as (
    select distinct account, currency, bank_format, sequence_year, statement_number
    from ranked
    where statement_number is not null and has_account
),

year_last as (
    select account, currency, bank_format, sequence_year, max(statement_number) as last_number
    from numbers
    group by all
),

year_ends as (
    -- the last number of each statement year, and that of the year before it
    select
        *,
        lag(last_number) over (
            partition by account, currency, bank_format order by sequence_year
        ) as previous_year_last_number
    from year_last
),

steps as (
    select
        numbers.*,
        lag(numbers.statement_number) over (
            partition by numbers.account, numbers.currency, numbers.bank_format,
                numbers.sequence_year
            order by numbers.statement_number
        ) as previous_in_year,
        year_ends.previous_year_last_number
    from numbers
    inner join year_ends
        on numbers.account = year_ends.account
        and numbers.currency is not distinct from year_ends.currency
        and numbers.bank_format = year_ends.bank_format
        and numbers.sequence_year is not distinct from year_ends.sequence_year
),

gaps as (
    select
        *,
        case
            when previous_in_year is not null then previous_in_year
            when statement_number = 1 then null  -- a new year starting at 1
            else previous_year_last_number
        end as previous_number,
        case
            when previous_in_year is not null then previous_in_year + 1
            when statement_number = 1 or previous_year_last_number is null then null
            when statement_number > previous_year_last_number then previous_year_last_number + 1
            else 1  -- restarted this year, but not at 1
        end as first_missing
    from steps
),

gap_lists as (
    select
        *,
        case when first_missing < statement_number then statement_number - first_missing end
            as missing_count,
        case
            when first_missing >= statement_number then null
            when statement_number - first_missing <= 10
                then array_to_string(range(first_missing, statement_number), ', ')
            else cast(first_missing as varchar) || '-' || cast(statement_number - 1 as varchar)
        end as missing_sequence_numbers
    from gaps
),

final as (
    select
        ranked.statement_key,
        ranked.statement_id,
        ranked.account,
        ranked.currency,
        ranked.bank_format,
        ranked.sequence_number,
        ranked.statement_number,
        ranked.page_number,
        ranked.from_date,
        ranked.to_date,
        {{ to_money('ranked.opening_balance') }} as opening_balance,
        {{ to_money('ranked.entries_total') }} as entries_total,
        {{ to_money('ranked.closing_balance') }} as closing_balance,
        ranked.entry_count,
        ranked.balance_status,
        {{ to_money('ranked.balance_difference') }} as balance_difference,
        case
            when ranked.statement_number is null or not ranked.has_account then 'not_checkable'
            when ranked.taken_in_rank > 1 then 'duplicate'
            when gap_lists.missing_count > 0 then 'gap'
            else 'ok'
        end as sequence_status,
        gap_lists.previous_number as previous_statement_number,
        case when ranked.taken_in_rank = 1 then gap_lists.missing_sequence_numbers end
            as missing_sequence_numbers,
        case when ranked.taken_in_rank = 1 then gap_lists.missing_count end as missing_count,
        ranked.source_file,
        ranked.file_seq
    from ranked
    left join gap_lists
        on ranked.account = gap_lists.account
        and ranked.currency is not distinct from gap_lists.currency
        and ranked.bank_format = gap_lists.bank_format
        and ranked.sequence_year is not distinct from gap_lists.sequence_year
        and ranked.statement_number = gap_lists.statement_number
)

select
    statement_key,
    statement_id,
    account,
    currency,
    bank_format,
    sequence_number,
    statement_number,
    page_number,
    from_date,
    to_date,
    opening_balance,
    entries_total,
    closing_balance,
    cast(entry_count as bigint) as entry_count,
    balance_status,
    balance_difference,
    sequence_status,
    cast(previous_statement_number as bigint) as previous_statement_number,
    missing_sequence_numbers,
    cast(missing_count as bigint) as missing_count,
    source_file,
    cast(file_seq as bigint) as file_seq
from final
