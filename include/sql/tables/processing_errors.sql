-- Records the transformation Lambda could not read: Firehose writes them, with the original bytes in
-- rawData, under <error prefix>processing-failed/ in the same hour folders as the data (AWS_SHAPES.md 3d).
CREATE EXTERNAL TABLE IF NOT EXISTS `{{ database }}`.`{{ errors_table }}` (
    attemptsmade int,
    arrivaltimestamp bigint,
    errorcode string,
    errormessage string,
    attemptendingtimestamp bigint,
    rawdata string,
    lambdaarn string
)
PARTITIONED BY (year string, month string, day string, hour string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://{{ bucket }}/{{ error_prefix }}processing-failed/'
TBLPROPERTIES ('classification' = 'json')
