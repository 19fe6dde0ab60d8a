"""Where the data lives: database URLs, the embedded PostgreSQL, and the schema's migrations."""
