"""The Athena query engine of localaws: Athena (Trino) SQL run in DuckDB over the S3 objects of Glue tables.

- ``sql``: statement parsing (sqlglot), ExecutionParameters, and the rewrite layer that gives DuckDB
  Trino's semantics (or fails the query with ``NOT_SUPPORTED`` where it cannot).
- ``catalog``: Glue tables, views and partitions (moto's backend, in-process), the S3 objects under a
  location, and the DDL that writes the catalog (views, external tables, MSCK REPAIR TABLE).
- ``cache``: each S3 object decoded once into a Parquet copy in its table's column types (keyed by
  bucket/key/ETag and the decoding, LRU-bounded on disk), which queries scan instead of the JSON lines.
- ``engine``: runs one statement: plans the scans, enforces the bytes-scanned cut-off, executes in DuckDB.
- ``results``: DuckDB types and values as Athena shows them (ColumnInfo, Trino's text forms, CSV).
- ``errors``: Athena-shaped query failures (``TABLE_NOT_FOUND: line 1:15: ...``).
"""
