-- The as-of day: the UTC day of the latest completed load. Every view that speaks of "today"
-- reads it, so the figures move when a load lands, not when a dashboard is opened.
SELECT CAST(MAX(loads.inserted_at) AT TIME ZONE 'UTC' AS DATE) AS as_of_day
FROM {{ source('opencx', '_dlt_loads') }} loads
WHERE loads.status = 0
