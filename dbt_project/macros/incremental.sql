{# Incremental models keep what they last read in audit.dbt_watermarks (one value per model and
   name; the table is the pipeline's, pipelines/warehouse.py): the next night reads only what
   came after. The pipeline forces a full rebuild of every incremental model when the dbt
   project changed (pipelines/transform/dbt.py), so a watermark never outlives the SQL that
   wrote it. #}

{# The stored value (a SQL scalar subquery, cast to `type`), or `default` when none is stored. #}
{% macro watermark(name, type, default) -%}
    coalesce((
        select cast(value as {{ type }}) from audit.dbt_watermarks
        where model = '{{ this.identifier }}' and name = '{{ name }}'
    ), {{ default }})
{%- endmacro %}

{# Store a value (a SQL expression) under `name` for this model: run as a post-hook, after the
   model was written, in the same transaction. #}
{% macro save_watermark(name, expression) -%}
    insert or replace into audit.dbt_watermarks
    select '{{ this.identifier }}', '{{ name }}', cast(({{ expression }}) as varchar), now()
{%- endmacro %}

{# Incremental staging over an append-only raw table (every delivered version is a row, with
   the `_file_seq` of its file): on an incremental run, only the keys delivered in a file
   taken in since the last build are read, with every version of them, so latest_version()
   ranks them as a full build would; delete+insert on the key replaces their rows. A key
   nobody delivered again keeps its row. Same rows as a full build (tests/e2e/
   test_incremental_nights.py delivers new versions of earlier keys on a later night). #}
{% macro delivered_since_last_build(raw_table, key) -%}
    {%- if is_incremental() %}
    where {{ key }} in ({{ raw_keys_since_last_build(raw_table, key) }})
    {%- endif -%}
{%- endmacro %}

{# The config of such a staging model: incremental by key, its watermark the last file taken
   (hooks are strings, rendered when the model runs). #}
{% macro raw_upsert_config(raw_table, key) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=key,
        on_schema_change='sync_all_columns',
        pre_hook="{{ log_delivered_keys('" ~ raw_table ~ "', '" ~ key ~ "') }}",
        post_hook="{{ save_raw_watermark('" ~ raw_table ~ "') }}",
        meta={'changed_keys': key},
    ) }}
{%- endmacro %}

{# A pre-hook of a staging model over an append-only raw table: log the keys delivered since
   its last build (log_unpublished_keys), so that its generic tests check only those
   (test_scope.sql). #}
{% macro log_delivered_keys(raw_table, key) -%}
    {{ log_keys_since_last_build(raw_table ~ '_file_seq',
                                 'select distinct ' ~ key ~ ' from (' ~ raw_keys_since_last_build(raw_table, key) ~ ')') }}
{%- endmacro %}

{# Log `keys_sql`, the keys new since the watermark `name` of this model's last build; every
   key when it is built in full (the first time, or --full-refresh, which a changed dbt
   project brings) or has no such watermark yet. #}
{% macro log_keys_since_last_build(name, keys_sql) -%}
    {%- set known = not flags.FULL_REFRESH and (is_incremental() or config.get('materialized') == 'view') -%}
    {%- if known -%}
        {%- set stored = run_query("select count(*) from audit.dbt_watermarks where model = '"
                                   ~ this.identifier ~ "' and name = '" ~ name ~ "'") -%}
        {%- set known = stored.columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- if known -%}
    {{ log_unpublished_keys(keys_sql) }}
    {%- else -%}
    {{ log_unpublished_keys(none) }}
    {%- endif -%}
{%- endmacro %}

{# The config of a view over the matcher's append-only ledger (an entry is never changed or
   removed): its hooks log the entries recorded since its last build (event_seq), which its
   generic tests then check (test_scope.sql). #}
{% macro ledger_view_config() -%}
    {{ config(
        materialized='view',
        pre_hook="{{ log_keys_since_last_build('event_seq', 'select event_seq from '
                     ~ source('recon', 'allocation_ledger') ~ ' where event_seq > '
                     ~ watermark('event_seq', 'bigint', -1)) }}",
        post_hook="{{ save_watermark('event_seq', 'select max(event_seq) from '
                      ~ source('recon', 'allocation_ledger')) }}",
        meta={'changed_keys': 'event_seq'},
    ) }}
{%- endmacro %}

{# Incremental marts keyed by one column (an invoice, a transaction): on an incremental run
   the pre-hook writes the keys whose rows the new data can change (`changed_sql`, a query
   returning that column) to a scratch table and deletes their rows; the model then computes
   the rows of those keys only (`where {{ recompute_only(key) }}`), which are appended. A key
   that now has no row (an allocation reversed in full) is deleted and not appended. A night
   dated before the last build (a backfill) recomputes every row (recompute_changed_only).
   The post-hooks save this build's watermarks and drop the scratch table. #}
{% macro changed_keys_table() -%}
    audit."_changed_{{ this.identifier }}"
{%- endmacro %}

{# True when this build of a keyed incremental mart recomputes only changed keys: the table
   exists, its as-of date was saved, and the night is not dated before its last build (a
   backfill, or dbt run by hand for an earlier date: then every row is recomputed). Asked
   when the model is compiled, which dbt does just before it runs it. #}
{% macro recompute_changed_only() -%}
    {%- if not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- if not execute -%}{{ return(true) }}{%- endif -%}
    {%- set stored = run_query("select max(value) from audit.dbt_watermarks where model = '"
                               ~ this.identifier ~ "' and name = 'as_of_date'") -%}
    {%- set last = stored.columns[0].values()[0] -%}
    {{ return(last is not none and var('as_of_date') >= last) }}
{%- endmacro %}

{# The pre-hook also logs the keys it recomputes in audit.unpublished_keys (a NULL key when it
   recomputes every row), which publishing applies to a copy of the published file
   (pipelines/publish.py) and then clears, and the build itself in audit.unpublished_builds
   (whether it recomputed every row), which scopes the generic tests (test_scope.sql). #}
{% macro delete_changed_keys(key, changed_sql) -%}
    {%- if recompute_changed_only() -%}
    create or replace table {{ changed_keys_table() }} as
        select distinct {{ key }} from ({{ changed_sql }}) as changed where {{ key }} is not null;
    delete from {{ this }} where {{ key }} in (select {{ key }} from {{ changed_keys_table() }});
    {{ log_unpublished_keys('select cast(' ~ key ~ ' as varchar) from ' ~ changed_keys_table()) }}
    {%- else -%}
    {%- if is_incremental() %}delete from {{ this }};{% endif %}
    {{ log_unpublished_keys(none) }}
    {%- endif -%}
{%- endmacro %}

{# `keys_sql` a query of the keys recomputed, none when every row is. #}
{% macro log_unpublished_keys(keys_sql) -%}
    insert into audit.unpublished_builds values ('{{ this.identifier }}', {{ keys_sql is none }}, now());
    insert into audit.unpublished_keys select '{{ this.identifier }}', key, now()
    from ({{ keys_sql or 'select null' }}) as changed(key)
{%- endmacro %}

{% macro recompute_only(key) -%}
    {%- if recompute_changed_only() -%}
    {{ key }} in (select {{ key }} from {{ changed_keys_table() }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{# The rows of `relation` that meet `condition` and whose `key` this build recomputes: on a
   build of changed keys only, few of many, read in two steps (rows_where; `row` as there). #}
{% macro changed_rows(relation, key, condition='true', row='rowid') -%}
    {%- if recompute_changed_only() -%}
    {{ rows_where(relation, '(' ~ condition ~ ') and ' ~ recompute_only(key), row=row) }}
    {%- else -%}
    {{ rows_where(relation, condition, few=false, row=row) }}
    {%- endif -%}
{%- endmacro %}

{% macro drop_changed_keys() -%}
    drop table if exists {{ changed_keys_table() }}
{%- endmacro %}

{# The night's date of the last build (the start of the window of dates new to this night). #}
{% macro last_as_of_date() -%}
    {{ watermark('as_of_date', 'date', "date '0001-01-01'") }}
{%- endmacro %}

{# A date column within the window of dates new to this night: after the last build's as-of
   date, up to the night's. #}
{% macro in_new_dates(column) -%}
    ({{ column }} > {{ last_as_of_date() }} and {{ column }} <= {{ as_of_date() }})
{%- endmacro %}

{# Ledger entries (stg_recon__allocation_ledger) the last build did not see in force: recorded
   since, or taking effect in the window of new dates. A condition. #}
{% macro ledger_changed_since_last_build() -%}
    (event_seq > {{ watermark('event_seq', 'bigint', -1) }} or {{ in_new_dates('effective_date') }})
{%- endmacro %}

{# Keys of an append-only raw table delivered in a file taken in since the last build. #}
{% macro raw_keys_since_last_build(raw_table, key) -%}
    select {{ key }} from {{ source('raw', raw_table) }}
    where _file_seq > {{ watermark(raw_table ~ '_file_seq', 'bigint', -1) }}
{%- endmacro %}

{% macro save_raw_watermark(raw_table) -%}
    {{ save_watermark(raw_table ~ '_file_seq', 'select max(_file_seq) from ' ~ source('raw', raw_table)) }}
{%- endmacro %}

{# Keys of an append-only raw table whose latest version differs, in `columns`, from their
   latest version at the last build (a key new since then counts as changed). For master data
   delivered in full every night: a customer delivered again unchanged changes nothing. #}
{% macro raw_keys_changed_since_last_build(raw_table, key, columns) -%}
    {%- set order = "updated_at desc nulls last, _file_seq desc, _line_number desc" -%}
    {%- set wm = watermark(raw_table ~ '_file_seq', 'bigint', -1) -%}
    select {{ key }} from (
        select {{ key }}, {{ columns | join(', ') }}
        from {{ source('raw', raw_table) }}
        where {{ key }} in ({{ raw_keys_since_last_build(raw_table, key) }})
        qualify row_number() over (partition by {{ key }} order by {{ order }}) = 1
    ) as now
    left join (
        select {{ key }}, {{ columns | join(', ') }}, true as known
        from {{ source('raw', raw_table) }}
        where {{ key }} in ({{ raw_keys_since_last_build(raw_table, key) }}) and _file_seq <= {{ wm }}
        qualify row_number() over (partition by {{ key }} order by {{ order }}) = 1
    ) as before using ({{ key }})
    where before.known is null
    {%- for column in columns %}
       or now.{{ column }} is distinct from before.{{ column }}
    {%- endfor %}
{%- endmacro %}

{# The invoices whose row in int_invoices_balanced the data new since its last build can
   change: delivered again, issued in the window of new dates, named by a credit note
   delivered since (any version) or issued in the window, touched by a ledger entry recorded
   since or taking effect in the window, or of a customer whose salesperson or key-account
   flag changed. #}
{% macro invoices_changed_since_last_build() -%}
    {{ raw_keys_since_last_build('erp_invoices', 'invoice_id') }}
    union all
    select invoice_id from {{ ref('stg_erp__invoices') }} where {{ in_new_dates('issue_date') }}
    union all
    select invoice_id from {{ source('raw', 'erp_credit_notes') }}
    where credit_note_id in ({{ raw_keys_since_last_build('erp_credit_notes', 'credit_note_id') }})
    union all
    select invoice_id from {{ ref('stg_erp__credit_notes') }} where {{ in_new_dates('issue_date') }}
    union all
    select invoice_id from {{ ref('stg_recon__allocation_ledger') }} where {{ ledger_changed_since_last_build() }}
    union all
    select invoice_id from {{ ref('stg_erp__invoices') }}
    where customer_id in (
        {{ raw_keys_changed_since_last_build('erp_customers', 'customer_id',
                                             ['salesperson_id', 'is_key_account']) }}
    )
{%- endmacro %}

{# The transactions whose rows in fct_payment_allocations the data new since its last build
   can change: a ledger entry recorded since or taking effect in the window of new dates, or
   an allocation to an invoice delivered again (its number or customer may differ). #}
{% macro allocations_changed_since_last_build() -%}
    select transaction_id from {{ ref('stg_recon__allocation_ledger') }}
    where {{ ledger_changed_since_last_build() }}
       or invoice_id in ({{ raw_keys_since_last_build('erp_invoices', 'invoice_id') }})
{%- endmacro %}

{# The night whose matcher outcomes hold at the as-of date: the latest on or before it. #}
{% macro outcomes_night() -%}
    select max(as_of_date) from {{ ref('stg_recon__receipt_outcomes') }}
    where as_of_date <= {{ as_of_date() }}
{%- endmacro %}

{# The receipts whose row in fct_bank_receipts the data new since its last build can change:
   effective in the window of new dates, taken in since (a late statement), an outcome that
   differs from the one of the night the last build read (every receipt when that night's
   outcomes are no longer kept), or a transaction whose allocations may have changed. #}
{% macro receipts_changed_since_last_build() -%}
    {%- set before = watermark('outcomes_as_of', 'date', "date '0001-01-01'") -%}
    {%- set outcomes = ref('stg_recon__receipt_outcomes') -%}
    select transaction_id from {{ ref('stg_bank__transactions') }}
    where amount > 0 and {{ in_new_dates('effective_date') }}
    union all
    {{ raw_keys_since_last_build('bank_transactions', 'transaction_id') }}
    union all
    -- one join on the transaction (unique per night), not two EXCEPTs of whole rows; the
    -- columns compared by their hash (as the matcher's checkpoint compares its inputs): at
    -- 10M receipts 6.5 -> 4 s
    {%- set compared = 'hash(payer_customer_id, payer_evidence, outcome, reason_code) as h' %}
    select coalesce(latest.transaction_id, last_read.transaction_id) from (
        select transaction_id, {{ compared }} from {{ outcomes }}
        where as_of_date = ({{ outcomes_night() }})
    ) as latest
    full join (
        select transaction_id, {{ compared }} from {{ outcomes }}
        where as_of_date = {{ before }}
    ) as last_read on latest.transaction_id = last_read.transaction_id
    where latest.transaction_id is null or last_read.transaction_id is null or latest.h <> last_read.h
    union all
    select transaction_id from {{ ref('stg_bank__transactions') }}
    where amount > 0 and not exists (select 1 from {{ outcomes }} where as_of_date = {{ before }})
    union all
    {{ allocations_changed_since_last_build() }}
{%- endmacro %}

{# The receipts whose row in fct_reconciliation_exceptions would differ from the one it holds:
   compared with the table itself (the night's exceptions against its rows, in what can change:
   the matcher's reason, candidates and payer, and the first-seen date), not with an earlier
   night's outcomes. A receipt's bank columns never change (raw.bank_transactions holds each
   transaction once, as first taken in). #}
{% macro exceptions_changed_since_last_build() -%}
    select coalesce(held.transaction_id, now.transaction_id) as transaction_id
    from {{ this }} as held
    full join (
        select o.transaction_id, o.reason_code, o.candidates, o.payer_customer_id,
               coalesce(f.first_seen_date, o.as_of_date) as first_seen_date
        from {{ ref('stg_recon__receipt_outcomes') }} o
        left join (
            select transaction_id, first_seen_date from {{ ref('stg_recon__exception_first_seen') }}
            where first_seen_date <= {{ as_of_date() }}
        ) f using (transaction_id)
        where o.as_of_date = ({{ outcomes_night() }}) and o.outcome = 'exception'
    ) as now on held.transaction_id = now.transaction_id
    where held.transaction_id is null or now.transaction_id is null
       or held.reason_code is distinct from now.reason_code
       or held.candidate_invoice_numbers is distinct from now.candidates
       or held.payer_customer_id is distinct from now.payer_customer_id
       or held.first_seen_date is distinct from now.first_seen_date
{%- endmacro %}

{# The config of a keyed incremental mart: `changed` names the macro of its changed keys;
   every such mart keeps its last as-of date, the ledger's last entry and, per raw table in
   `raw_tables`, the last file it read; `more_hooks` saves what else it reads. Its meta
   `changed_keys` names the key, so that its generic tests check the changed keys only
   (test_scope.sql). #}
{% macro keyed_incremental_config(key, changed, raw_tables, more_hooks=[]) -%}
    {%- set post_hooks = [
        "{{ save_watermark('as_of_date', as_of_date()) }}",
        "{{ save_watermark('event_seq', 'select max(event_seq) from ' ~ ref('stg_recon__allocation_ledger')) }}",
    ] -%}
    {%- for raw_table in raw_tables -%}
        {%- do post_hooks.append("{{ save_raw_watermark('" ~ raw_table ~ "') }}") -%}
    {%- endfor -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_keys('" ~ key ~ "', " ~ changed ~ "()) }}",
        post_hook=post_hooks + more_hooks + ["{{ drop_changed_keys() }}"],
        meta={'changed_keys': key},
    ) }}
{%- endmacro %}

{# The orders whose row in int_order_to_cash the data new since its last build can change:
   delivered again, placed in the window of new dates, with an invoice that may have
   changed (any version's order), or of a customer whose salesperson changed. #}
{% macro orders_changed_since_last_build() -%}
    {{ raw_keys_since_last_build('erp_orders', 'order_id') }}
    union all
    select order_id from {{ ref('stg_erp__orders') }} where {{ in_new_dates('order_date') }}
    union all
    select order_id from {{ source('raw', 'erp_invoices') }}
    where invoice_id in (select invoice_id from ({{ invoices_changed_since_last_build() }}))
    union all
    select order_id from {{ ref('stg_erp__orders') }}
    where customer_id in (
        {{ raw_keys_changed_since_last_build('erp_customers', 'customer_id', ['salesperson_id']) }}
    )
{%- endmacro %}
