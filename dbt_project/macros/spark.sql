{#
  The project on Apache Spark (dbt-spark, MIRA_ENGINE=spark): what differs from DuckDB, in one place.

  Tables are plain Parquet (Delta and Iceberg need jars from outside the package registries), so
  there is no DELETE, UPDATE or MERGE. The incremental models keep their strategies and their
  SQL; on Spark each strategy becomes a rewrite of the touched tenants' partitions:

    1. stage   the new content of every tenant the run touches: the rows this run writes, plus
               the rows of that tenant the strategy keeps (those not in a touched partition, or
               before its `replace_from`), into a Parquet table beside the model;
    2. swap    INSERT OVERWRITE ... PARTITION (tenant_id) from the stage, with dynamic partition
               overwrite: only the tenants present in the stage are replaced;
    3. empty   a touched tenant left without any row (a correction, an erasure, a purge) has
               its partition dropped: dynamic overwrite alone would leave its old rows there.

  Why tenant partitions: every model's rows depend on one tenant's data, publishing reads one
  tenant at a time, and a tenant-and-day layout would cut a small tenant's year into hundreds of
  tiny files. The DuckDB strategy deletes and inserts rows inside one file instead
  (macros/core_incremental.sql); both leave the same rows, which tests/integration/test_engines.py
  checks mart by mart.
#}

{# `partition_by` of an incremental model: by tenant on Spark; nothing on DuckDB (a table there). #}
{% macro mira_partition_by() -%}
    {{ return(['tenant_id'] if target.type == 'spark' else none) }}
{%- endmacro %}

{#
  The project's strategies on Parquet: dbt-spark accepts only append, insert_overwrite and
  microbatch there (merge needs Delta, Iceberg or Hudi); core_replace_touched, delete+insert and
  merge are done by the partition rewrite above (mira_spark_rewrite_tenants).
#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- set rewritten = ['core_replace_touched', 'delete+insert', 'merge'] -%}
    {%- if raw_strategy in rewritten and file_format == 'parquet' -%}
        {%- do return(raw_strategy) -%}
    {%- endif -%}
    {%- if raw_strategy not in ['append', 'insert_overwrite', 'microbatch'] -%}
        {%- do exceptions.raise_compiler_error(
            "incremental strategy " ~ raw_strategy ~ " on " ~ file_format ~ " tables: this project runs "
            ~ (rewritten + ['append', 'insert_overwrite', 'microbatch']) | join(', ') ~ " on parquet") -%}
    {%- endif -%}
    {%- do return(raw_strategy) -%}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy in ['core_replace_touched', 'delete+insert', 'merge'] -%}
        {{ mira_spark_rewrite_tenants(strategy, source, target, unique_key) }}
    {%- elif strategy == 'append' -%}
        {{ get_insert_into_sql(source, target) }}
    {%- else -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- endif -%}
{%- endmacro %}

{#
  Steps 1 to 3 above. Runs the stage, the swap and the drops itself (one statement each: a Spark
  session runs one statement per call) and returns the last statement, the stage's removal, for
  the materialization to run as its `main`.

  What each strategy replaces, and with what:
    core_replace_touched  the partitions its `touched_partitions` macro names (from `replace_from`
                          on when set), by this run's rows;
    delete+insert         every row whose unique_key is among this run's rows, by those rows;
    merge                 likewise, except that a matched row keeps its own values of the columns
                          outside merge_update_columns (what MERGE ... UPDATE SET would leave).
  Keys compare with `=`, as the DuckDB forms do (a null key matches nothing).
#}
{% macro mira_spark_rewrite_tenants(strategy, source, target, unique_key) -%}
    {%- set keys = [unique_key] if unique_key is string else (unique_key or []) -%}
    {%- if 'tenant_id' not in keys -%}
        {%- do exceptions.raise_compiler_error(
            "the Spark form of " ~ strategy ~ " rewrites tenant partitions: unique_key of "
            ~ target ~ " must include tenant_id") -%}
    {%- endif -%}
    {%- if mira_partition_by() != config.get('partition_by') -%}
        {%- do exceptions.raise_compiler_error(target ~ " needs partition_by=mira_partition_by() on Spark") -%}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set data_columns = columns | reject('equalto', 'tenant_id') | list -%}
    {%- set replace_from = config.get('replace_from') if strategy == 'core_replace_touched' else none -%}
    {%- if strategy == 'core_replace_touched' -%}
        {%- set touched_sql = context[config.get('touched_partitions')](source) -%}
    {%- else -%}
        {%- set touched_sql = 'select distinct ' ~ keys | join(', ') ~ ' from ' ~ source -%}
    {%- endif -%}
    {%- set stage = target.incorporate(path={'identifier': target.identifier ~ '__mira_stage'}) -%}
    {%- set touched = target.incorporate(path={'identifier': target.identifier ~ '__mira_touched'}) -%}

    {#- The run's rows (a temporary view of the model's SQL) and the touched partitions are each
        computed once, before the target changes: both read the target as it was. -#}
    {%- do run_query('cache table ' ~ source) -%}
    {%- do run_query('drop table if exists ' ~ touched) -%}
    {%- do run_query('create table ' ~ touched ~ ' using parquet as ' ~ touched_sql) -%}

    {%- set stage_sql -%}
    create table {{ stage }} using parquet as
    with
    {% if strategy == 'merge' -%}
    {%- set update_columns = config.get('merge_update_columns') or columns -%}
    written as (
        select
        {%- for column in columns %}
            {% if column in keys or column in update_columns -%}
            written.{{ column }}
            {%- else -%}
            case when kept.{{ keys[0] }} is not null then kept.{{ column }} else written.{{ column }} end
            {%- endif %} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
        from {{ source }} as written
        left join {{ target }} as kept
            on {% for key in keys %}kept.{{ key }} = written.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    ),
    {%- else -%}
    written as (
        select {{ columns | join(', ') }} from {{ source }}
    ),
    {%- endif %}

    kept as (
        select kept.*
        from {{ target }} as kept
        left anti join {{ touched }} as touched
            on {% for key in keys %}touched.{{ key }} = kept.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
            {%- if replace_from %} and kept.{{ replace_from }} >= touched.replace_from{% endif %}
        where kept.tenant_id in (select tenant_id from {{ touched }} union select tenant_id from written)
    )

    select {{ columns | join(', ') }} from kept
    union all
    select {{ columns | join(', ') }} from written
    {%- endset -%}

    {%- do run_query('drop table if exists ' ~ stage) -%}
    {%- do run_query(stage_sql) -%}
    {#- tenants the run touched that have no row left: their partitions go (step 3) -#}
    {%- set emptied = run_query(
        'select distinct tenant_id from ' ~ touched ~ ' where tenant_id not in '
        ~ '(select distinct tenant_id from ' ~ stage ~ ')').columns[0].values() -%}
    {#- the cached rows read the target: released before it changes, not recomputed after -#}
    {%- do run_query('uncache table if exists ' ~ source) -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = dynamic') -%}
    {%- do run_query('insert overwrite table ' ~ target ~ ' partition (tenant_id) select '
                     ~ (data_columns + ['tenant_id']) | join(', ') ~ ' from ' ~ stage) -%}
    {%- for tenant in emptied -%}
        {%- do run_query('alter table ' ~ target ~ " drop if exists partition (tenant_id = '"
                         ~ (tenant | replace("'", "''")) ~ "')") -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ touched) %}
    drop table if exists {{ stage }}
{%- endmacro %}

{#
  The record of tenant builds (macros/tenant_incremental.sql) on Spark: one partition per model,
  replaced whole by the model's post-hook (there is no DELETE on Parquet).
#}
{% macro spark__tenant_builds_create() -%}
    {%- do run_query('create database if not exists intermediate') -%}
    create table if not exists {{ tenant_builds_relation() }} (
        tenant_id string,
        row_count bigint,
        loaded_at timestamp,
        project_version string,
        model_name string
    ) using parquet partitioned by (model_name)
{%- endmacro %}

{% macro spark__tenant_builds_record() -%}
    insert overwrite table {{ tenant_builds_relation() }} partition (model_name = '{{ this.identifier }}')
    select tenant_id, row_count, loaded_at, {{ mira_project_version() }}
    from {{ ref('int_tenant_loads') }}
{%- endmacro %}

{#
  on-run-start: the raw layer as tables. On DuckDB the ingestion's raw.* tables are in the
  warehouse: nothing to do. On Spark they are Parquet folders in the lake (MIRA_LAKE/raw/<entity>,
  partitioned by tenant_id, written by pipelines/transform/lake.py before dbt starts), declared
  again on every run so that Spark lists their files afresh.
#}
{% macro mira_lake_sources() -%}
    {{ return(adapter.dispatch('mira_lake_sources', 'mira')()) }}
{%- endmacro %}

{% macro default__mira_lake_sources() -%}
{%- endmacro %}

{% macro spark__mira_lake_sources() -%}
    {%- set lake = env_var('MIRA_LAKE') -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for entity in ['tenants', 'users', 'materials', 'locations', 'projects', 'movements'] -%}
        {%- do run_query('drop table if exists raw.' ~ entity) -%}
        {%- do run_query("create table raw." ~ entity ~ " using parquet location '"
                         ~ lake ~ "/raw/" ~ entity ~ "'") -%}
        {%- do run_query('alter table raw.' ~ entity ~ ' recover partitions') -%}
    {%- endfor %}
    select 1
{%- endmacro %}

{#
  Type names as the models and the YAML contracts spell them (DuckDB's, mostly standard SQL), in
  Spark's spelling: varchar is Spark's string, and its only timestamp is an instant.
#}
{% macro spark__cast(field, type) -%}
    {%- set spelled = type | string | trim | lower -%}
    {%- set spelled = {'varchar': 'string', 'text': 'string', 'timestamp with time zone': 'timestamp',
                       'timestamptz': 'timestamp'}.get(spelled, type) -%}
    cast({{ field }} as {{ spelled }})
{%- endmacro %}

{#
  Contracts on Parquet. Spark enforces a not_null constraint only on Delta tables, so on a
  Parquet table the marts' not_null constraints (which stand in for not_null data tests,
  dbt_project.yml) are checked here, right after the model is written: a null fails the model,
  as DuckDB's constraint does. Other constraint types are not declared in this project.
#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if not (contract_config and contract_config.enforced) -%}{%- do return('') -%}{%- endif -%}
    {%- set checked = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint.type == 'not_null' -%}{%- do checked.append(name) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if checked -%}
        {%- set nulls = [] -%}
        {%- for name in checked -%}{%- do nulls.append('count_if(' ~ name ~ ' is null)') -%}{%- endfor -%}
        {%- set counts = run_query('select ' ~ nulls | join(', ') ~ ' from ' ~ relation).rows[0] -%}
        {%- for name in checked -%}
            {%- if counts[loop.index0] > 0 -%}
                {%- do exceptions.raise_compiler_error(
                    "contract of " ~ relation ~ ": " ~ counts[loop.index0] ~ " row(s) with a null " ~ name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
