{#- Incremental marts recompute every row dated on or after the run's window start, and nothing before it.

    Why open-ended and not [min_date, max_date + 1 year]: every definition looks backwards only (a row
    dated d reads rows dated <= d), so rows before min_date can never change; but a row after max_date
    can depend on a row inside the window without limit: a share count or FX rate is "as of" until the
    next observation (years for some share counts), a suspended or delisted member carries its last
    close, the 1Y anchor of a row is the close as of one year earlier, and a month or year end anchors
    the whole next month or year. On a schedule tick the window is the latest day, so "on or after
    min_date" is that day alone; a backfill or a late correction of an old partition recomputes from
    that partition to today (docs/operations.md, "Incremental runs").

    The window comes from the env var CTR_WINDOW_MIN_DATE (set by the Dagster asset) or the dbt var
    min_date (by hand: --vars '{min_date: 2026-01-14}'). Dagster uses the env var because a change of
    --vars makes dbt discard its partial-parse cache and re-parse the whole project on every run; the
    env var is read only at execution time (`execute`), so the parse never sees it. -#}

{% macro window_start_value() -%}
    {{ return(date_setting('min_date', 'CTR_WINDOW_MIN_DATE')) }}
{%- endmacro %}

{#- A date setting: the dbt var, else (at execution only, so the parse never sees it) the env var the
    Dagster asset sets; a Python date, or none when neither is set. -#}
{% macro date_setting(var_name, env_name) -%}
    {%- set value = var(var_name, none) -%}
    {%- if not value and execute -%}
        {%- set value = env_var(env_name, '') -%}
    {%- endif -%}
    {%- if value -%}
        {#- parsed, not pasted: the value ends up inside SQL -#}
        {{ return(modules.datetime.date.fromisoformat(value | string | trim)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The SQL date literal of the window start in an incremental run; none in a full build (first run,
    --full-refresh) or an incremental run without a window, both of which recompute everything. -#}
{% macro window_start() -%}
    {%- set start = window_start_value() -%}
    {#- a unit test has no `this`: it tests the full build (is_incremental() would fail on it) -#}
    {%- if start is not none and this is not none and is_incremental() -%}
        {{ return("date '" ~ start.isoformat() ~ "'") }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- A predicate keeping the rows this run recomputes: `column >= window start`, or true. -#}
{% macro in_window(column) -%}
    {%- set start = window_start() -%}
    {%- if start is none -%} true {%- else -%} {{ column }} >= {{ start }} {%- endif -%}
{%- endmacro %}

{#- The earliest date any definition looks back to from a date d. Each period's anchor is listed so
    a new period cannot be forgotten here:
      daily  the previous row: the latest close before d
      MTD    the latest close before the first day of d's month
      YTD    the latest close before January 1 of d's year
      1Y     the latest close on or before the same day one year earlier (Feb 29 -> Feb 28)
    The earliest of them is today always the 1Y one; least() keeps that a fact of the SQL, not of
    this comment. -#}
{% macro lookback_date(date_expr) -%}
    least(
        {{ date_expr }} - 1,
        {{ month_start(date_expr) }} - 1,
        {{ year_start(date_expr) }} - 1,
        {{ one_year_before(date_expr) }}
    )
{%- endmacro %}

{#- Keeps the input rows an incremental run needs to compute the rows from the window start on: for
    every entity (index, symbol, currency...) its rows from its latest row on or before a date, the
    value "as of" that date, onwards. The date is the window start for an as-of value (a close, an FX
    rate, a share count carried forward), or its lookback_date() with `anchors=true` for a series whose
    period anchors are needed too. Entities share one cut-off (the earliest of theirs), which reads a
    little more than needed and never less. `where` restricts the rows that count as a value (the
    valued days of a basket). `true` outside an incremental run with a window. -#}
{% macro asof_lookback(relation, entity_columns, date_column, anchors=false, where='true') -%}
    {%- set start = window_start() -%}
    {%- if start is none -%}
        true
    {%- else -%}
        {%- set at = lookback_date(start) if anchors else start -%}
        {{ date_column }} >= coalesce((
            select min(latest_date) from (
                select max({{ date_column }}) as latest_date
                from {{ relation }}
                where {{ date_column }} <= {{ at }} and ({{ where }})
                group by {{ entity_columns | join(', ') }}
            )
        ), {{ at }})
    {%- endif -%}
{%- endmacro %}

{#- Custom incremental strategy: replace every row dated on or after the window start (all rows
    without a window) by the rows just computed, in the materialisation's transaction. A date range
    rather than delete+insert on the keys, so a row that no longer exists (a corrected raw row that
    removed a trading day) disappears too. Every incremental model is dated by trade_date. -#}
{% macro get_incremental_window_replace_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} where {{ in_window('trade_date') }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{#- The rows a data test on a date-rewritten table checks: with a window (an incremental run, not
    --full-refresh) those dated on or after its start, the only rows the run can have changed; a
    whole-table scan of 20M rows per test would otherwise cost more than the run's models
    (docs/operations.md, "Benchmark"). Everything without a window or without `column`. -#}
{% macro in_test_window(column) -%}
    {%- set start = window_start_value() if column else none -%}
    {%- if start is none or flags.FULL_REFRESH -%} true {%- else -%} {{ column }} >= date '{{ start.isoformat() }}' {%- endif -%}
{%- endmacro %}

{#- The column a data test of `node_id` is windowed on, or none: trade_date on an incremental model
    (every one is rewritten by trade_date), else the model's `meta.test_window_column` (a staging view
    over a raw table, whose rows a run replaces by date too). -#}
{% macro test_window_column(node_id) -%}
    {%- set node = graph.nodes.get(node_id) if node_id else none -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- elif node.config.materialized == 'incremental' -%}
        {{ return('trade_date') }}
    {%- endif -%}
    {{ return((node.config.meta or {}).get('test_window_column')) }}
{%- endmacro %}

{#- Overrides dbt's macro of the same name (the root project's macro wins over dbt's own): every
    generic test reads its model through it. Besides the test's `where` config, a test of a table a
    windowed run rewrites by date reads only the rows of the window (in_test_window), so the tests of
    a daily run cost the same after 3 years of history as after 15. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set column = test_window_column(model.attached_node if execute else none) -%}
    {%- set window = in_test_window(column) | trim -%}
    {%- if window != 'true' -%}
        {%- do conditions.append(window) -%}
    {%- endif -%}
    {%- if conditions -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
