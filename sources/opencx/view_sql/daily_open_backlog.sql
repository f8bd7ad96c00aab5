WITH RECURSIVE bounds AS (
    SELECT CAST(MIN(i.created_at) AT TIME ZONE 'UTC' AS DATE) AS first_day,
           MAX(anchor.as_of_day) AS last_day
    FROM {{ source('opencx', 'insights') }} i CROSS JOIN {{ ref('as_of_day') }} anchor
),
days(day) AS (
    SELECT first_day FROM bounds WHERE first_day <= last_day
    UNION ALL
    SELECT CAST(d.day + 1 AS DATE) FROM days d CROSS JOIN bounds b WHERE d.day < b.last_day
),
day_ends AS (
    SELECT day, CAST(day + 1 AS TIMESTAMP) AT TIME ZONE 'UTC' AS day_end FROM days
),
closures AS (
    SELECT h.insight_id, LEAST(h.resolved_at, h.archived_at, h.deleted_at) AS closed_from,
           h.valid_to AS closed_until
    FROM {{ source('opencx', 'insight_history') }} h
    WHERE COALESCE(h.resolved_at, h.archived_at, h.deleted_at) IS NOT NULL
    UNION ALL
    SELECT i.id, LEAST(i.resolved_at, i.archived_at, i.deleted_at), NULL
    FROM {{ source('opencx', 'insights') }} i
    WHERE COALESCE(i.resolved_at, i.archived_at, i.deleted_at) IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM {{ source('opencx', 'insight_history') }} h WHERE h.insight_id = i.id
      )
),
created AS (
    SELECT d.day, COUNT(i.id) AS n
    FROM day_ends d LEFT JOIN {{ source('opencx', 'insights') }} i ON i.created_at < d.day_end
    GROUP BY d.day
),
closed AS (
    SELECT d.day, COUNT(DISTINCT c.insight_id) AS n
    FROM day_ends d
    JOIN closures c ON c.closed_from < d.day_end
                   AND (c.closed_until IS NULL OR c.closed_until > d.day_end)
    JOIN {{ source('opencx', 'insights') }} i ON i.id = c.insight_id AND i.created_at < d.day_end
    GROUP BY d.day
)
SELECT c.day, CAST(c.n - COALESCE(x.n, 0) AS BIGINT) AS open_insights
FROM created c LEFT JOIN closed x ON x.day = c.day
ORDER BY c.day
