-- Records the transformation Lambda failed on that day, by error: they are missing from every report
-- until replayed from their rawData. Parameters: year, month, day.
SELECT errorcode AS error_code, errormessage AS error_message, count(*) AS records
FROM "{{ database }}"."{{ errors_table }}"
WHERE year = ? AND month = ? AND day = ?
GROUP BY errorcode, errormessage
ORDER BY records DESC, error_code
