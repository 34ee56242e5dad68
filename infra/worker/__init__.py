"""The worker: procrastinate's job queue on our PostgreSQL, the outbox that feeds it in the
same transaction as each change, the tasks it runs, and the loops that run beside it."""
