"""`python -m infra.local`: run the local stack (see infra.local.stack)."""

import logging
import os
import sys

from infra.local.stack import main

code = main()
# Every part has stopped (or its time ran out): an invocation still finishing on a worker thread
# must not hold the exit, which Python would otherwise wait for.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
