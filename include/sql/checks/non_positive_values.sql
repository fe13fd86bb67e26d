-- Live (not deleted) changes with a quantity or price of zero or less: the source wrote a value no
-- order can have. Parameters: year, month, day.
SELECT orderid, event_id, event_name, quantity, price
FROM "{{ database }}"."{{ table }}"
WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
    AND NOT is_deleted
    AND (quantity <= 0 OR price <= 0)
ORDER BY orderid, event_id
