"""Settings of the app's Lambda functions that both runtimes apply: the CDK stack as the
functions' properties, the local stack's rules bridge as its invocation pools.

Reserved concurrency: a command ack is bookkeeping (the command's status), never on a car's way
through the gate. Its function gets a small reserved concurrency, so a burst of acks queues for
its own executions (asynchronous invocations that find no free execution
wait in Lambda's event queue and are retried, never dropped) instead of competing with the
captures that open barriers for the same tables. Every other function uses the account's shared pool.
"""

from __future__ import annotations

# Not the occupancy publisher: it runs once per entry and exit, so a single execution falls behind
# a busy lot's changes (a load run showed its backlog growing without end).
RESERVED_CONCURRENCY: dict[str, int] = {"gate_ack": 2}
