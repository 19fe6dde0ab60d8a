"""Todo API: a FastAPI backend for Better Auth frontends, storing tasks in PostgreSQL."""

__version__ = "1.0.0"
