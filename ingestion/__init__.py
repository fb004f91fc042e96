"""Sources of public data → raw Iceberg tables, exactly once."""
