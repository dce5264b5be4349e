{#
  Tenant-incremental models: rebuild only the tenants whose data changed.

  The report marts and the movements' references are computed per tenant (every join is on
  tenant_id, every window partitioned by it, "now" is the tenant's own last movement day), so a
  tenant's rows depend on that tenant's raw rows alone. Rebuilt whole, their cost followed the
  size of every tenant's history on every load; a load of one tenant's day now recomputes that
  tenant only.

  How a model knows which tenants to rebuild, without trusting any run to have finished:
    int_tenant_loads          per tenant, over every raw table: row count and latest _loaded_at
                              (a MERGE that changes a row stamps it; a deletion lowers the count);
    intermediate.tenant_builds per model and tenant, that fingerprint as of the build that last
                              wrote the tenant's rows, and the dbt project's version then.
  A tenant is touched for a model when its fingerprint differs from the recorded one (or none is
  recorded), or when the project changed since (a model or macro edit recomputes every tenant).
  The record is written by a post-hook inside the model's own transaction, so a build that fails
  leaves the old record and the next build redoes the tenant. A tenant gone from raw (retention)
  is touched too: its rows are deleted and nothing is inserted.

  Usage in a model: {{ config(**tenant_incremental()) }}, and every input read as {{ tenant_ref('model') }} (the whole model on a full build, the touched
  tenants' rows, as constants the engine can skip storage blocks with, on an incremental one).
#}

{# The config of a tenant-incremental model. #}
{% macro tenant_incremental() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'core_replace_touched',
        'unique_key': ['tenant_id'],
        'touched_partitions': 'tenants_touched',
        'on_schema_change': 'fail',
        'partition_by': mira_partition_by(),
        'post_hook': '{{ tenant_builds_record() }}',
    }) }}
{%- endmacro %}

{% macro tenant_builds_relation() -%}
    {#- Spark has schemas only: no database in its target -#}
    {{ api.Relation.create(database=target.database if target.database is defined else none,
                           schema='intermediate', identifier='tenant_builds') }}
{%- endmacro %}

{# The version of the dbt project this build runs: on DuckDB pipelines/transform/plugin.py writes it
   into the in-memory catalog; on Spark pipelines/transform/project.py hands it over in a variable. #}
{% macro mira_project_version() -%}
    {{ return(adapter.dispatch('mira_project_version', 'mira')()) }}
{%- endmacro %}

{% macro default__mira_project_version() -%}
    (select version from memory.main.mira_project)
{%- endmacro %}

{% macro spark__mira_project_version() -%}
    '{{ env_var('MIRA_DBT_PROJECT_VERSION') }}'
{%- endmacro %}

{# on-run-start: the record exists before any model reads it. #}
{% macro tenant_builds_create() -%}
    {{ return(adapter.dispatch('tenant_builds_create', 'mira')()) }}
{%- endmacro %}

{% macro default__tenant_builds_create() -%}
    create schema if not exists {{ target.database }}.intermediate;
    create table if not exists {{ tenant_builds_relation() }} (
        model_name varchar not null,
        tenant_id varchar not null,
        row_count bigint,
        loaded_at {{ type_timestamp_tz() }},
        project_version varchar
    )
{%- endmacro %}

{# Tenants this model must rebuild (a query; `written` is unused, the strategy passes it). #}
{% macro tenants_touched(written=none) -%}
    select loads.tenant_id
    from {{ ref('int_tenant_loads') }} as loads
    left join {{ tenant_builds_relation() }} as built
        on  built.model_name = '{{ this.identifier }}'
        and built.tenant_id = loads.tenant_id
    where built.tenant_id is null
       or built.row_count <> loads.row_count
       or built.loaded_at is distinct from loads.loaded_at
       or built.project_version is distinct from {{ mira_project_version() }}

    union

    select built.tenant_id
    from {{ tenant_builds_relation() }} as built
    where built.model_name = '{{ this.identifier }}'
      and built.tenant_id not in (select tenant_id from {{ ref('int_tenant_loads') }})
{%- endmacro %}

{# A predicate on tenant_id: the touched tenants as literals (false when none). #}
{% macro tenants_in_scope(column='tenant_id') -%}
    {%- if not execute -%}{{ return('true') }}{%- endif -%}
    {%- set tenants = run_query(tenants_touched()).columns[0].values() -%}
    {%- if tenants | length == 0 -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for tenant in tenants -%}{%- do quoted.append("'" ~ (tenant | replace("'", "''")) ~ "'") -%}{%- endfor -%}
    {{ return(column ~ " in (" ~ (quoted | join(', ')) ~ ")") }}
{%- endmacro %}

{# A model's input: all of it on a full build, the touched tenants' rows on an incremental one. #}
{% macro tenant_ref(name) -%}
    {#- `this` is none where a unit test renders the model through a macro: a full build then -#}
    {%- if this is not none and is_incremental() -%}
        (select * from {{ ref(name) }} where {{ tenants_in_scope() }})
    {%- else -%}
        {{ ref(name) }}
    {%- endif -%}
{%- endmacro %}

{# post-hook: every tenant is now built from its current loads under this project version. #}
{% macro tenant_builds_record() -%}
    {{ return(adapter.dispatch('tenant_builds_record', 'mira')()) }}
{%- endmacro %}

{% macro default__tenant_builds_record() -%}
    delete from {{ tenant_builds_relation() }} where model_name = '{{ this.identifier }}';
    insert into {{ tenant_builds_relation() }}
    select '{{ this.identifier }}', tenant_id, row_count, loaded_at, {{ mira_project_version() }}
    from {{ ref('int_tenant_loads') }}
{%- endmacro %}
