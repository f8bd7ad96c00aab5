-- Dashboard queries for the OpenCX insights dataset (DuckDB dialect; schema `opencx`).
-- Run: duckdb data/opencx_insights.duckdb < notebooks/insights.sql
-- tests/test_notebook_queries.py checks each statement's answer against the API's ground truth.
-- The comment line right above a statement is its title there.

-- Open insights by team, angriest first
SELECT coalesce(t.name, '(no team)') AS team,
       COUNT(*) AS open_insights,
       SUM(i.occurrence_count) AS sessions,
       COUNT(*) FILTER (WHERE i.sentiment = 'angry') AS angry
FROM opencx.insights i
LEFT JOIN opencx.teams t ON t.id = i.team_id
WHERE i.status = 'unresolved' AND i.deleted_at IS NULL
GROUP BY ALL
ORDER BY angry DESC, sessions DESC;

-- Top categories by sessions in the last 30 days of activity (only additive counts)
SELECT coalesce(c.name, '(uncategorised)') AS category,
       SUM(a.occurrence_count) AS sessions
FROM opencx.insight_activity a
JOIN opencx.insights i ON i.id = a.insight_id
LEFT JOIN opencx.categories c ON c.id = i.category_id
WHERE a.count_scope = 'window'
  AND a.window_start >= (SELECT max(window_start) FROM opencx.insight_activity) - INTERVAL 30 DAY
GROUP BY ALL
ORDER BY sessions DESC;

-- Insights active per day (valid whatever count_scope says)
SELECT window_start::DATE AS day, COUNT(*) AS active_insights
FROM opencx.insight_activity
GROUP BY ALL
ORDER BY day;

-- Median time to resolve, per team
SELECT coalesce(t.name, '(no team)') AS team,
       median(date_diff('hour', i.first_seen_at, i.resolved_at)) AS median_hours_to_resolve,
       COUNT(*) AS resolved
FROM opencx.insights i
LEFT JOIN opencx.teams t ON t.id = i.team_id
WHERE i.resolved_at IS NOT NULL
GROUP BY ALL
ORDER BY resolved DESC;

-- How fast does each insight grow: occurrence_count per version
SELECT insight_id, valid_from, occurrence_count,
       occurrence_count - lag(occurrence_count) OVER (PARTITION BY insight_id ORDER BY valid_from)
         AS new_sessions
FROM opencx.insight_history
ORDER BY new_sessions DESC NULLS LAST
LIMIT 20;

-- Who resolves and archives
SELECT p.name, COUNT(*) FILTER (WHERE i.resolved_by_key = p.person_key) AS resolved,
       COUNT(*) FILTER (WHERE i.archived_by_key = p.person_key) AS archived
FROM opencx.people p
JOIN opencx.insights i ON p.person_key IN (i.resolved_by_key, i.archived_by_key)
GROUP BY ALL
ORDER BY resolved DESC;
