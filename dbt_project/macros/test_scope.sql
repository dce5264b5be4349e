{#
  Which rows a data test checks.

  The large incremental marts are rewritten a few partitions at a time: after one more day of
  movements a build writes a few thousand rows of millions. Testing every row again after every
  load costs more than the build itself, and rows a build did not write were tested by the
  build that wrote them. So a model whose config has `meta: {mira_test_scope: ...}` has its
  data tests (every generic test: not_null, unique_combination, relationships, accepted_values,
  no_personal_data, ...) restricted to:

    latest_build  the rows written by the latest build that wrote the mart: built_at equal to
                  max(built_at). Incremental marts stamp every row they (re)write with the
                  run's start (core_built_at), so that is exactly "what this build changed";
                  after a full refresh (or the first build) every row carries it: all are tested.
    unconsumed    (stg_mira__movements, with meta mira_consumer: fct_stock_movements) the rows
                  loaded after the consumer's watermark max(loaded_at): the rows this build is
                  about to turn into ledger legs. In `dbt build` a model's tests run before its
                  children are built, so the consumer still holds the previous build's rows.

  Everything is tested when var mira_full_tests is true (the nightly build passes it:
  pipelines/ops/assets.py), on `--full-refresh`, and when the mart or the consumer does not exist yet.

  Tests that compare rows keep comparing against the whole table: unique_combination looks the
  written rows' keys up in the whole mart (a written row repeating a kept row's key fails), and
  a relationship test looks them up in the whole (fully rebuilt) dimension.

  What scoping gives up, and why that is acceptable:
  - A kept row is not re-tested. Dimensions are built from every raw row, so a key that was
    valid when its row was written stays valid until raw rows are deleted (a tenant purge,
    which deletes the tenant's mart rows as well); a row's own values do not change unless a
    build rewrites it, and then it is in scope.
  - A failed test fails the build, and the next build tests only its own rows: the failure
    stays in the run history (Dagster asset checks) and the nightly full test finds it again.
  - A standalone `dbt test` after a build re-tests that build's rows (latest_build) and finds no
    unconsumed staging rows; pass --vars '{mira_full_tests: true}' to test everything.
#}

{#
  dbt wraps the tested relation of every generic test in get_where_subquery (the `where`
  config); this project's version adds the scope above. `model` here is the test node.
#}
{% macro get_where_subquery(relation) -%}
    {%- set predicates = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = mira_test_scope_predicate(relation) -%}
    {%- if scope -%}
        {%- do predicates.append(scope) -%}
    {%- endif -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# The graph node of the model a generic test is attached to (none for tests on sources). #}
{% macro mira_tested_node() -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- do return(graph.nodes.get(attached) if attached else none) -%}
{%- endmacro %}

{# The relation of the model a generic test is attached to, as built (none if not built). #}
{% macro mira_tested_relation() -%}
    {%- set node = mira_tested_node() -%}
    {%- if node is none -%}{%- do return(none) -%}{%- endif -%}
    {%- do return(adapter.get_relation(database=node.database, schema=node.schema,
                                       identifier=node.alias)) -%}
{%- endmacro %}

{# SQL predicate restricting a test of `relation` to its scope, or '' to test every row. #}
{% macro mira_test_scope_predicate(relation) -%}
    {%- if not execute or var('mira_full_tests', false) or flags.FULL_REFRESH -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set node = mira_tested_node() -%}
    {%- set scope = node.config.meta.get('mira_test_scope') if node is not none else none -%}
    {%- if scope == 'latest_build' -%}
        {#- not built yet (e.g. `dbt docs generate` before the first build): nothing to scope by -#}
        {%- if mira_tested_relation() is none -%}{%- do return('') -%}{%- endif -%}
        {%- set first, latest = mira_min_max_as_text(relation, 'built_at') -%}
        {#- one build wrote every row (the first build, a full refresh): test the table as it is -#}
        {%- do return("built_at = " ~ dbt.cast("'" ~ latest ~ "'", type_timestamp_tz()) if first != latest else '') -%}
    {%- elif scope == 'unconsumed' -%}
        {%- set consumer_name = node.config.meta.get('mira_consumer') -%}
        {%- set consumers = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                            | selectattr('name', 'equalto', consumer_name) | list -%}
        {%- if consumers | length != 1 -%}
            {{ exceptions.raise_compiler_error(
                "mira_test_scope unconsumed: meta mira_consumer must name one model, not " ~ consumer_name) }}
        {%- endif -%}
        {%- set consumer = adapter.get_relation(database=consumers[0].database, schema=consumers[0].schema,
                                                identifier=consumers[0].alias) -%}
        {%- set watermark = mira_min_max_as_text(consumer, 'loaded_at')[1] if consumer is not none else none -%}
        {%- do return("loaded_at > " ~ dbt.cast("'" ~ watermark ~ "'", type_timestamp_tz()) if watermark else '') -%}
    {%- elif scope -%}
        {{ exceptions.raise_compiler_error("unknown mira_test_scope " ~ scope ~ " (latest_build | unconsumed)") }}
    {%- endif -%}
    {%- do return('') -%}
{%- endmacro %}

{#
  min(column) and max(column) of a relation as text (none when empty), rendered back into the
  test as a literal: a constant lets the engine skip storage blocks by their min/max, where a
  subquery would make it read the whole column.
#}
{% macro mira_min_max_as_text(relation, column) -%}
    {%- set result = run_query(
        "select " ~ dbt.cast("min(" ~ column ~ ")", dbt.type_string()) ~ ", "
        ~ dbt.cast("max(" ~ column ~ ")", dbt.type_string()) ~ " from " ~ relation) -%}
    {%- do return([result.columns[0].values()[0], result.columns[1].values()[0]]) -%}
{%- endmacro %}
