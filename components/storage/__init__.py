"""Storage layer: the S3 buckets the platform writes to, their consumers' credentials, and backups."""
