"""Todo API: a FastAPI backend for Better Auth frontends, storing tasks in PostgreSQL."""
