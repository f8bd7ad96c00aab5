SELECT CAST(a.window_start AT TIME ZONE 'UTC' AS DATE) AS day, a.insight_id,
       CAST(SUM(a.occurrence_count) AS BIGINT) AS sessions,
       e.category_id, e.category_name, e.team_id, e.team_name, e.sentiment
FROM {{ source('opencx', 'insight_activity') }} a
JOIN {{ ref('insights_enriched') }} e ON e.id = a.insight_id
WHERE a.count_scope = 'window'
GROUP BY CAST(a.window_start AT TIME ZONE 'UTC' AS DATE), a.insight_id,
         e.category_id, e.category_name, e.team_id, e.team_name, e.sentiment
ORDER BY day, sessions DESC, a.insight_id
