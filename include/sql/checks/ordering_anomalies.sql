-- Orders whose latest change (greatest sequence_number) carries an earlier event_time than another of
-- their changes that day: the stream's order and the clock disagree. event_time is fixed-width ISO-8601
-- UTC, so comparing the text compares the instants. Parameters: year, month, day.
SELECT
    orderid,
    max_by(event_time, sequence_number) AS latest_change_time,
    max(event_time) AS newest_event_time,
    count(*) AS changes
FROM "{{ database }}"."{{ table }}"
WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
GROUP BY orderid
HAVING max_by(event_time, sequence_number) < max(event_time)
ORDER BY orderid
