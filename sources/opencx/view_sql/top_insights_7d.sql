SELECT rank, insight_id, insight_number, content, category_name, team_name, sentiment, status,
       sessions, share_of_sessions, previous_sessions, change, change_ratio, first_day, last_day
FROM {{ ref('top_insights') }}
WHERE period_days = 7
ORDER BY rank, insight_number
