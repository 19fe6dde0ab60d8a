"""Bearer-token authentication. Knows about tokens and user ids, nothing about tasks."""
