"""Settings of the app's Lambda functions that both runtimes apply: the CDK stack as the
functions' properties, the local stack's rules bridge as its invocation pools.

Reserved concurrency: a command ack is bookkeeping (the command's status), and a lot's occupancy
notification only republishes the current free-space count (any one of a burst says the latest);
neither is on a car's way through the gate. Their functions get a small reserved concurrency,
so a burst queues for its own executions (asynchronous invocations that find no free execution
wait in Lambda's event queue and are retried, never dropped) instead of competing with the
captures that open barriers for the same tables. Every other function uses the account's shared pool.
"""

from __future__ import annotations

RESERVED_CONCURRENCY: dict[str, int] = {"gate_ack": 2, "lot_occupancy": 1}
