{# Generic tests on a keyed incremental model check, on an incremental night, only the rows of
   the keys it recomputed since the last publish; every other row is the row a passing night
   already checked, unchanged.

   dbt hands every generic test its model through get_where_subquery (the test's `where`
   config); this override adds that scope when all of these hold:
   - the nightly runs dbt (var `tests_on_changed_keys`, which pipelines/transform/dbt.py
     sets); dbt run by hand checks every row, so a test added to the project checks the
     whole table the first time it runs, whatever the pipeline rebuilt;
   - the test is `unique`, `unique_combination`, `not_null`, `accepted_values` or
     `relationships` (the child side: its parent is read in full), all row- or key-local, and
     its severity is error (a warning would be shown once, then no more);
   - the tested model's rows change only by key: `changed_keys` in its meta (a keyed
     incremental model, keyed_incremental_config) or `publish: {key, changes_of}` (a view over
     one, or the aging history);
   - no tested column moves with the night's date (`publish.shift_with_as_of`);
   - every build of the model since the last publish recomputed only changed keys, logging
     them in audit.unpublished_keys (audit.unpublished_builds, by log_unpublished_keys); with
     no build since (dbt test run by hand after a publish), every row is checked.
   A night whose tests fail does not publish, so its keys stay logged and the next night
   checks them again. A full build checks every row. Decided when the test is compiled, which
   dbt does just before running it, after its model. #}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = changed_keys_scope() if execute else none -%}
    {%- if scope and where -%}{%- set where = '(' ~ where ~ ') and ' ~ scope -%}
    {%- elif scope -%}{%- set where = scope -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# The condition limiting this test to the changed keys, or none for every row. #}
{% macro changed_keys_scope() -%}
    {%- if not var('tests_on_changed_keys', false) -%}{{ return(none) }}{%- endif -%}
    {%- set meta = model.get('test_metadata') or {} -%}
    {%- if meta.get('name') not in ['unique', 'unique_combination', 'not_null', 'accepted_values', 'relationships']
           or (model.config.severity | lower) != 'error' or not model.get('attached_node') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get(model.attached_node) -%}
    {%- if node is none -%}{{ return(none) }}{%- endif -%}
    {%- set node_meta = node.config.meta or {} -%}
    {%- set publish = node_meta.get('publish') or {} -%}
    {%- if publish.get('changes_of') -%}
        {%- set logged_as, key = publish.changes_of, publish.key -%}
    {%- elif node_meta.get('changed_keys') -%}
        {%- set logged_as, key = node.name, node_meta.changed_keys -%}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set kwargs = meta.get('kwargs') or {} -%}
    {%- set tested = ([kwargs.column_name] if kwargs.get('column_name') else []) + (kwargs.get('columns') or []) -%}
    {%- for column in tested -%}
        {%- if column in (publish.get('shift_with_as_of') or []) -%}{{ return(none) }}{%- endif -%}
    {%- endfor -%}
    {%- set builds = run_query("select count(*) filter (where not full_rebuild), count(*) filter (where full_rebuild) "
                               ~ "from audit.unpublished_builds where model = '" ~ logged_as ~ "'") -%}
    {%- if builds.rows[0][0] == 0 or builds.rows[0][1] > 0 -%}{{ return(none) }}{%- endif -%}
    {{ return("cast(" ~ key ~ " as varchar) in (select key from audit.unpublished_keys where model = '"
              ~ logged_as ~ "')") }}
{%- endmacro %}
