-- category_key and team_key make the natural key (grouped_by, category_key, team_key) free of
-- nulls: '(none)' is an insight without a category or team, '(all)' a row not grouped by it.
WITH resolved AS (
    SELECT category_id, team_id,
           CAST((EXTRACT(EPOCH FROM resolved_at) - EXTRACT(EPOCH FROM created_at)) / 3600.0
                AS FLOAT8) AS hours
    FROM {{ ref('insights_enriched') }}
    WHERE resolved_at IS NOT NULL AND created_at IS NOT NULL
),
grouped AS (
    SELECT GROUPING(category_id) AS all_categories, GROUPING(team_id) AS all_teams,
           category_id, team_id, COUNT(*) AS resolved,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours
    FROM resolved
    GROUP BY GROUPING SETS ((category_id, team_id), (category_id), (team_id), ())
    HAVING COUNT(*) > 0
)
SELECT CASE g.all_categories * 2 + g.all_teams
           WHEN 0 THEN 'category and team' WHEN 1 THEN 'category' WHEN 2 THEN 'team'
           ELSE 'total' END AS grouped_by,
       CASE WHEN g.all_categories = 1 THEN '(all)' ELSE COALESCE(g.category_id, '(none)') END
           AS category_key,
       CASE WHEN g.all_teams = 1 THEN '(all)' ELSE COALESCE(g.team_id, '(none)') END AS team_key,
       g.category_id, c.name AS category_name, g.team_id, t.name AS team_name,
       g.resolved, CAST(g.median_hours AS FLOAT8) AS median_hours,
       CAST(g.p90_hours AS FLOAT8) AS p90_hours
FROM grouped g
LEFT JOIN {{ source('opencx', 'categories') }} c ON c.id = g.category_id
LEFT JOIN {{ source('opencx', 'teams') }} t ON t.id = g.team_id
ORDER BY grouped_by, g.resolved DESC, category_name, team_name
