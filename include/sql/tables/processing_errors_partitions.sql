-- Register the error table's hour folders as partitions (Hive-style key=value folders).
MSCK REPAIR TABLE `{{ database }}`.`{{ errors_table }}`
