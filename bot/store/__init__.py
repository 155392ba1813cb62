"""The durable store: events (a work queue with leases) and decisions.

`SqlEventStore(url)` works on SQLite (`sqlite:///PATH`, the embedded default) and
PostgreSQL (`postgresql+psycopg://...`, for several replicas).
"""
