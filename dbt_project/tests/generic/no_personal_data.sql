{#
  Fails on a mart column named like personal data (name, first/last name, email, user id,
  phone) and on any string value that looks like an email address.

  Names and user ids in cells cannot be recognised without the vault, which dbt must not read;
  tests/integration/test_marts_core.py checks those against the vault. Emails have a shape, and
  they are what staff most often type into free-text fields that do reach the marts (location
  and project names), so every build checks for them here. Columns are read from the built
  table, so a column added later is covered without touching this test.
#}
{% test no_personal_data(model) %}
    {%- set personal = modules.re.compile(
        '^(full_?|first_?|last_?|given_?|family_?|sur)?name$|e_?mail|user_?id|phone', modules.re.IGNORECASE) -%}
    {#- `model` may be the tested rows only (macros/test_scope.sql): columns come from the table -#}
    {%- set columns = adapter.get_columns_in_relation(mira_tested_relation() or model) if execute else [] -%}
    {%- set checks = [] -%}
    {%- for column in columns -%}
        {%- if personal.search(column.name) -%}
            {%- do checks.append("select '" ~ column.name ~ "' as column_name, 'named like personal data' as finding") -%}
        {%- endif -%}
        {%- if column.is_string() -%}
            {%- do checks.append(
                "select '" ~ column.name ~ "' as column_name, 'holds an email address' as finding from "
                ~ model ~ " where " ~ adapter.quote(column.name) ~ " like '%_@_%._%'") -%}
        {%- endif -%}
    {%- endfor %}
    {%- if checks %}
    {{ checks | join('\n    union all\n    ') }}
    {%- else %}
    select null as column_name, null as finding where 1 = 0
    {%- endif %}
{% endtest %}
