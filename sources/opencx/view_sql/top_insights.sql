-- Both periods in one text (7 and 30 complete days before the as-of day, each against the
-- same number of days before it); top_insights_7d and top_insights_30d pick one period.
WITH periods AS (
    SELECT d.period_days,
           a.as_of_day - d.period_days AS first_day, a.as_of_day - 1 AS last_day,
           a.as_of_day - 2 * d.period_days AS previous_first_day,
           a.as_of_day - d.period_days - 1 AS previous_last_day
    FROM {{ ref('as_of_day') }} a CROSS JOIN (VALUES (7), (30)) AS d(period_days)
),
current_period AS (
    SELECT p.period_days, s.insight_id, SUM(s.sessions) AS sessions
    FROM {{ ref('daily_insight_sessions') }} s
    JOIN periods p ON s.day BETWEEN p.first_day AND p.last_day
    GROUP BY p.period_days, s.insight_id
),
previous_period AS (
    SELECT p.period_days, s.insight_id, SUM(s.sessions) AS sessions
    FROM {{ ref('daily_insight_sessions') }} s
    JOIN periods p ON s.day BETWEEN p.previous_first_day AND p.previous_last_day
    GROUP BY p.period_days, s.insight_id
),
total AS (
    SELECT period_days, SUM(sessions) AS sessions FROM current_period GROUP BY period_days
)
SELECT CAST(c.period_days AS BIGINT) AS period_days,
       CAST(RANK() OVER (PARTITION BY c.period_days ORDER BY c.sessions DESC) AS BIGINT) AS rank,
       c.insight_id, e.insight_number, e.content, e.category_name, e.team_name, e.sentiment,
       e.status, CAST(c.sessions AS BIGINT) AS sessions,
       CAST(c.sessions AS FLOAT8) / CAST(t.sessions AS FLOAT8) AS share_of_sessions,
       CAST(COALESCE(pp.sessions, 0) AS BIGINT) AS previous_sessions,
       CAST(c.sessions - COALESCE(pp.sessions, 0) AS BIGINT) AS change,
       CASE WHEN pp.sessions > 0
            THEN CAST(c.sessions - pp.sessions AS FLOAT8) / CAST(pp.sessions AS FLOAT8)
       END AS change_ratio,
       p.first_day, p.last_day
FROM current_period c
JOIN total t ON t.period_days = c.period_days
JOIN periods p ON p.period_days = c.period_days
JOIN {{ ref('insights_enriched') }} e ON e.id = c.insight_id
LEFT JOIN previous_period pp
       ON pp.period_days = c.period_days AND pp.insight_id = c.insight_id
ORDER BY period_days, rank, e.insight_number
