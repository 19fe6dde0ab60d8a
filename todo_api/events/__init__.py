"""Events: the log every change writes (migration 0006), its live stream to browsers, and its relay to
NATS JetStream for other services."""
