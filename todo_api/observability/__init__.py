"""What the person on call reads: request ids, JSON log lines and Prometheus metrics."""
