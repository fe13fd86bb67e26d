-- Changes delivered more than once (same event_id): expected now and then from at-least-once delivery,
-- and harmless to reports, which keep one copy; a finding says how often it happens. Parameters: year, month, day.
SELECT event_id, orderid, count(*) AS deliveries
FROM "{{ database }}"."{{ table }}"
WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
GROUP BY event_id, orderid
HAVING count(*) > 1
ORDER BY deliveries DESC, event_id
