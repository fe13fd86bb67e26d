-- Changes that arrived in each hour of the report day (UTC), by kind; a re-delivered change counts
-- once. Parameters: year, month, day.
SELECT
    hour,
    count_if(event_name = 'INSERT') AS inserts,
    count_if(event_name = 'MODIFY') AS updates,
    count_if(event_name = 'REMOVE') AS deletes
FROM (
    SELECT DISTINCT event_id, event_name, hour
    FROM "{{ database }}"."{{ table }}"
    WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
)
GROUP BY hour
ORDER BY hour
