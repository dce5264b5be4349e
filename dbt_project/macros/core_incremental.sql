{#
  Incremental plumbing shared by the core marts.

  Every raw row carries _loaded_at, the time the ingestion merged it (a corrected row gets a
  new one). Marts keep the latest load time of their inputs in `loaded_at`, so "what changed
  since this mart was last built" is always "inputs loaded after max(loaded_at) of the mart":
  no run bookkeeping outside the tables themselves, and a failed run is simply redone.

  What a watermark cannot see: rows deleted from raw (a tenant purged at the end of its
  retention period). Whatever deletes them must delete the tenant's rows from the incremental
  marts too, or run `dbt build --full-refresh`. A model change that alters columns also needs a
  full refresh (on_schema_change = fail says so instead of leaving old rows without the column).
#}

{# The latest load time a mart has seen; a date before any data when it is empty. #}
{% macro core_watermark(column='loaded_at', relation=none) -%}
    (select coalesce(max({{ column }}), {{ dbt.cast("'1900-01-01 00:00:00+00'", type_timestamp_tz()) }})
     from {{ relation or this }})
{%- endmacro %}

{# When this dbt invocation started, as an instant: marks the rows a run (re)wrote. #}
{% macro core_built_at() -%}
    {{ dbt.cast("'" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "+00'", type_timestamp_tz()) }}
{%- endmacro %}

{#
  Incremental strategy `core_replace_touched`: replace whole partitions that changed.

  The model names a macro (config `touched_partitions`) returning one row per partition to
  rebuild, with the partition columns of `unique_key` and, when config `replace_from` names a
  column, a `replace_from` value: the partition is then replaced from that value onwards only.
  The model's SQL emits the new content of exactly those partitions (it calls the same macro).
  The macro is passed the relation holding the rows this run writes, for models whose
  partitions are single rows chosen by the model's SQL (int_tool_custody_events).

  Why not delete+insert or merge: both delete only keys present in the new rows, so a
  partition left empty by a correction (a day's only issue re-typed as a transfer, a movement
  booked at another location) would keep its stale rows. Here the deletion is driven by the
  touched partitions, not by the new rows. The macro reads the mart's state before this run
  (`this` is not modified until the delete below), so it returns the same partitions here as
  it did when the model's SQL ran earlier in the same transaction; they are kept in a
  temporary table so the delete reads them once, before it changes `this`.
#}
{% macro get_incremental_core_replace_touched_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set partition_by = arg_dict['unique_key'] -%}
    {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
    {%- set touched_macro = config.get('touched_partitions') -%}
    {%- set replace_from = config.get('replace_from') -%}
    {%- if not touched_macro or not partition_by -%}
        {{ exceptions.raise_compiler_error(
            "core_replace_touched needs configs touched_partitions (a macro name) and unique_key") }}
    {%- endif -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    {%- set touched = target.identifier ~ '__touched' %}
    create temporary table {{ touched }} as {{ context[touched_macro](source) }};

    {#- DELETE ... USING, not WHERE EXISTS: DuckDB plans the correlated EXISTS as a join that
        first collects every distinct key of the whole mart (2.2 s at 8.7M movements for a few
        hundred touched rows); USING joins the small touched table into the scan (0.02 s). #}
    delete from {{ target }} as dbt_target
    using {{ touched }} as touched
    where
    {%- for column in partition_by %}
        touched.{{ column }} = dbt_target.{{ column }}{{ ' and' if not loop.last }}
    {%- endfor %}
    {%- if replace_from %}
        and dbt_target.{{ replace_from }} >= touched.replace_from
    {%- endif %};

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ source }};

    drop table {{ touched }}
{%- endmacro %}

{#
  `order by` for a full build of a large mart: rows written sorted by tenant (then day). DuckDB
  keeps a min/max per storage block and column and skips blocks a filter or a join's keys rule
  out, so reading one tenant's rows (publishing its serving file) or one tenant's day (the next
  incremental run's joins) touches that tenant's blocks instead of the whole mart. Incremental
  runs append their few rows in load order (day by day): no sort there.
#}
{% macro core_full_build_order(columns) -%}
    {%- if not is_incremental() %}
order by {{ columns | join(', ') }}
    {%- endif %}
{%- endmacro %}
