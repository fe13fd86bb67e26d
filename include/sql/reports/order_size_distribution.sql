-- How large the report day's live orders are: orders per quantity bucket, with the unit price's
-- median and 90th percentile in each bucket. Parameters: year, month, day.
WITH day_log AS (
    SELECT orderid, quantity, price, event_name, is_deleted, sequence_number
    FROM "{{ database }}"."{{ table }}"
    WHERE year = ? AND month = ? AND day = ? AND NOT starts_with(orderid, 'canary-')
),
live AS (
    SELECT quantity, price
    FROM (
        SELECT
            quantity, price, is_deleted,
            row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency
        FROM day_log
        WHERE orderid IN (SELECT orderid FROM day_log WHERE event_name = 'INSERT')
    )
    WHERE recency = 1 AND NOT is_deleted
)
SELECT
    CASE
        WHEN quantity IS NULL THEN 'unknown'
        WHEN quantity <= 0 THEN '0 or less'
        WHEN quantity = 1 THEN '1'
        WHEN quantity <= 3 THEN '2-3'
        WHEN quantity <= 5 THEN '4-5'
        WHEN quantity <= 10 THEN '6-10'
        ELSE '11+'
    END AS quantity_bucket,
    count(*) AS orders,
    approx_percentile(price, 0.5) AS price_p50,
    approx_percentile(price, 0.9) AS price_p90
FROM live
GROUP BY 1
ORDER BY min(coalesce(quantity, 2147483647))
