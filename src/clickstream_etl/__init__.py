"""The hourly ETL Lambda: S3 raw bucket -> PostgreSQL data warehouse (see handler)."""
