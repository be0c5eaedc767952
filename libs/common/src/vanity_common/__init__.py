"""Vanity's service chassis: the plumbing every service repeats, and no business rules.

settings, logs, metrics, traces, database, migrations, gRPC server and clients, problem+json
errors, the verified caller, Celery wiring and the service process itself.
"""
