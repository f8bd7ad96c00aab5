{#- No two rows share the values of `columns` (nulls compare equal, as in GROUP BY): the
    natural key of a table or view that has more than one column. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
