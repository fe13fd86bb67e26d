-- Changes that reached the data lake more than an hour after they happened. The partition is the hour
-- Firehose received the record, so lateness is measured from the start of that hour. Parameters: year, month, day.
SELECT
    orderid,
    event_id,
    event_time,
    concat(year, '-', month, '-', day, 'T', hour, ':00:00Z') AS arrival_hour
FROM "{{ database }}"."{{ table }}"
WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
    AND from_iso8601_timestamp(event_time)
        < from_iso8601_timestamp(concat(year, '-', month, '-', day, 'T', hour, ':00:00Z')) - INTERVAL '1' HOUR
ORDER BY event_time, event_id
