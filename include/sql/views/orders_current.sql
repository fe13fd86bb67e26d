-- The latest state of every order (DESIGN.md, "Correct analytics over CDC"): per orderid the change
-- with the greatest sequence_number, dropped when that change is a delete. Exact duplicates from
-- at-least-once delivery share their sequence_number, so row_number keeps one. Canaries are excluded.
CREATE OR REPLACE VIEW "{{ database }}"."orders_current" AS
SELECT orderid, product_name, quantity, price, event_name, event_time, sequence_number
FROM (
    SELECT
        orderid, product_name, quantity, price, event_name, is_deleted, event_time, sequence_number,
        row_number() OVER (PARTITION BY orderid ORDER BY sequence_number DESC) AS recency
    FROM "{{ database }}"."{{ table }}"
    WHERE NOT starts_with(orderid, 'canary-')
)
WHERE recency = 1 AND NOT is_deleted
