WITH RECURSIVE bounds AS (
    SELECT CAST(date_trunc('week', MIN(i.created_at) AT TIME ZONE 'UTC') AS DATE) AS first_week,
           CAST(date_trunc('week', CAST(MAX(anchor.as_of_day) AS TIMESTAMP)) AS DATE)
               AS last_week
    FROM {{ source('opencx', 'insights') }} i CROSS JOIN {{ ref('as_of_day') }} anchor
),
weeks(week_start) AS (
    SELECT first_week FROM bounds WHERE first_week <= last_week
    UNION ALL
    SELECT CAST(w.week_start + 7 AS DATE) FROM weeks w CROSS JOIN bounds b
    WHERE w.week_start < b.last_week
),
events AS (
    SELECT 'created' AS kind, i.created_at AS happened_at
    FROM {{ source('opencx', 'insights') }} i
    UNION ALL SELECT 'resolved', i.resolved_at FROM {{ source('opencx', 'insights') }} i
    UNION ALL SELECT 'archived', i.archived_at FROM {{ source('opencx', 'insights') }} i
    UNION ALL SELECT 'deleted', i.deleted_at FROM {{ source('opencx', 'insights') }} i
),
weekly AS (
    SELECT CAST(date_trunc('week', happened_at AT TIME ZONE 'UTC') AS DATE) AS week_start,
           kind, COUNT(*) AS n
    FROM events WHERE happened_at IS NOT NULL
    GROUP BY CAST(date_trunc('week', happened_at AT TIME ZONE 'UTC') AS DATE), kind
)
SELECT w.week_start,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'created' THEN e.n END), 0) AS BIGINT) AS created,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'resolved' THEN e.n END), 0) AS BIGINT) AS resolved,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'archived' THEN e.n END), 0) AS BIGINT) AS archived,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'deleted' THEN e.n END), 0) AS BIGINT) AS deleted
FROM weeks w LEFT JOIN weekly e ON e.week_start = w.week_start
GROUP BY w.week_start
ORDER BY w.week_start
