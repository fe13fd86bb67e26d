-- Revenue, units and live orders per product, for orders first created on the report day, in their
-- state at the end of that day. Parameters: year, month, day.
WITH day_log AS (
    SELECT orderid, product_name, quantity, price, event_name, is_deleted, sequence_number
    FROM "{{ database }}"."{{ table }}"
    WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
),
latest AS (
    SELECT
        orderid, product_name, quantity, price, is_deleted,
        row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency
    FROM day_log
    WHERE orderid IN (SELECT orderid FROM day_log WHERE event_name = 'INSERT')
)
SELECT
    product_name,
    count(*) AS orders,
    sum(quantity) AS units,
    sum(quantity * CAST(price AS DECIMAL(12, 2))) AS revenue
FROM latest
WHERE recency = 1 AND NOT is_deleted
GROUP BY product_name
ORDER BY revenue DESC, product_name
