{#- On DuckDB the models name the relations they read without the file's catalog, as the
    connector's views do. The catalog is the file's name, so a view that names it stops working
    when the file is opened under another one (a copy, `ATTACH ... AS`, MotherDuck); DuckDB
    binds a view's unqualified names in the catalog the view lives in. -#}

{% macro source(source_name, table_name) %}
  {% do return(opencx_portable(builtins.source(source_name, table_name))) %}
{% endmacro %}

{% macro ref() %}
  {% do return(opencx_portable(builtins.ref(*varargs, **kwargs))) %}
{% endmacro %}

{% macro opencx_portable(relation) %}
  {% if target.type == 'duckdb' %}
    {% do return(relation.include(database=false)) %}
  {% endif %}
  {% do return(relation) %}
{% endmacro %}
