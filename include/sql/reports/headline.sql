-- Orders first created on the report day, in their state at the end of that day: how many are live,
-- the units and revenue they hold, and the average order value. Parameters: year, month, day.
WITH day_log AS (
    SELECT orderid, quantity, price, event_name, is_deleted, sequence_number
    FROM "{{ database }}"."{{ table }}"
    WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
),
latest AS (
    SELECT
        orderid, quantity, price, is_deleted,
        row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency
    FROM day_log
    WHERE orderid IN (SELECT orderid FROM day_log WHERE event_name = 'INSERT')
)
SELECT
    count_if(NOT is_deleted) AS live_orders,
    coalesce(sum(CASE WHEN NOT is_deleted THEN quantity END), 0) AS units,
    coalesce(sum(CASE WHEN NOT is_deleted THEN quantity * CAST(price AS DECIMAL(12, 2)) END), 0) AS revenue,
    CAST(
        sum(CASE WHEN NOT is_deleted THEN quantity * CAST(price AS DECIMAL(12, 2)) END)
        / nullif(count_if(NOT is_deleted), 0) AS DECIMAL(12, 2)
    ) AS average_order_value,
    count_if(is_deleted) AS deleted_orders
FROM latest
WHERE recency = 1
