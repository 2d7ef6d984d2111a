{#- dbt's macros that run a query, as dbt-duckdb renders them: dbt.date_spine(datepart, start, end)
    gives one row per datepart from start (included) to end (excluded). -#}

{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
    {%- call statement('get_intervals_between', fetch_result=True) -%}
        select {{ dbt.datediff(start_date, end_date, datepart) }}
    {%- endcall -%}
    {%- set found = load_result('get_intervals_between') -%}
    {{ return(found['data'][0][0] if found and found['data'] else 1) }}
{%- endmacro %}

{% macro default__date_spine(datepart, start_date, end_date) -%}
    with rawdata as (
        {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
    ),
    all_periods as (
        select ({{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }}) as date_{{ datepart }}
        from rawdata
    ),
    filtered as (
        select * from all_periods where date_{{ datepart }} <= {{ end_date }}
    )
    select * from filtered
{%- endmacro %}
