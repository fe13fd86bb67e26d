"""The sales-stream library: config, resources and the jobs the DAGs run."""
