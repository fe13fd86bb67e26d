-- Changes that arrived in each hour of the report day (UTC), by kind. A re-delivered change counts
-- once, in the hour its first copy arrived. Parameters: year, month, day.
SELECT
    hour,
    count_if(event_name = 'INSERT') AS inserts,
    count_if(event_name = 'MODIFY') AS updates,
    count_if(event_name = 'REMOVE') AS deletes
FROM (
    SELECT event_id, min(event_name) AS event_name, min(hour) AS hour
    FROM "{{ database }}"."{{ table }}"
    WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
    GROUP BY event_id
)
GROUP BY hour
ORDER BY hour
