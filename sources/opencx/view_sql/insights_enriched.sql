SELECT i.id, i.insight_number, i.content, i.sentiment, i.status, i.occurrence_count,
       i.category_id, c.name AS category_name, i.team_id, t.name AS team_name,
       i.resolved_by_key, r.name AS resolved_by_name, i.resolved_at,
       i.archived_by_key, a.name AS archived_by_name, i.archived_at, i.archive_reason,
       i.deep_research_completed_at, i.first_seen_at, i.last_seen_at, i.created_at,
       i.updated_at
FROM {{ source('opencx', 'insights') }} i
LEFT JOIN {{ source('opencx', 'categories') }} c ON c.id = i.category_id
LEFT JOIN {{ source('opencx', 'teams') }} t ON t.id = i.team_id
LEFT JOIN {{ source('opencx', 'people') }} r ON r.person_key = i.resolved_by_key
LEFT JOIN {{ source('opencx', 'people') }} a ON a.person_key = i.archived_by_key
WHERE i.deleted_at IS NULL
ORDER BY i.insight_number
