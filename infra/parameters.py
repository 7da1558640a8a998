"""The PostgreSQL parameter group values, each with the reason a DBA would give for it."""

from __future__ import annotations

PARAMETERS = {
    # Clients that try plaintext are refused by the server, not just by the proxy.
    "rds.force_ssl": "1",
    # Per-statement timings for the Performance Insights top-SQL view and manual tuning.
    "shared_preload_libraries": "pg_stat_statements",
    # Log every statement slower than 1 s (ms): slow queries show with their text and time,
    # while the OLTP traffic (well below it) adds nothing to the log.
    "log_min_duration_statement": "1000",
    # Log a session that waits longer than deadlock_timeout (1 s) for a lock: the blocked and
    # the blocking statements are named, which is how a migration stuck behind a long
    # transaction is found.
    "log_lock_waits": "1",
    # End a session that sits idle inside an open transaction for 5 minutes (ms): it holds
    # locks and stops vacuum from removing dead rows. The initializer and the application
    # never idle in a transaction; an abandoned psql session does.
    "idle_in_transaction_session_timeout": "300000",
    # Log any temporary file over 10 MB (kB): a query spilling sorts or hashes to disk needs
    # an index or more work_mem.
    "log_temp_files": "10240",
    # Log every autovacuum and autoanalyze run that takes longer than 1 s (ms): long runs on
    # the big tables show when they happen and what they removed.
    "log_autovacuum_min_duration": "1000",
    # RDS suppresses autovacuum's log lines unless this is set: without it the previous
    # setting logs nothing.
    "rds.force_autovacuum_logging_level": "log",
}
