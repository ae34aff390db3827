# parkcharge developer commands. `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint synth bench broker clean token simulate charge lock openapi

# The venv is installed from the dev lock (exact versions, every file checked against its hash);
# `make lock` refreshes both locks from the requirements*.txt inputs.
$(STAMP): requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	touch $(STAMP)

# requirements.lock: the Lambda runtime (requirements.txt) for the Lambda platform, with hashes;
# the layer is built from it. requirements-dev.lock: everything the make targets need on Linux
# x86_64 with Python 3.11, held to the runtime lock's versions so tests run what Lambda runs.
# Both resolve from PyPI alone. Pins still allowed by the inputs are kept; to move them all,
# `make lock LOCK_ARGS=--upgrade` (or `LOCK_ARGS="-P boto3"` for one package).
UV_COMPILE := $(VENV)/bin/uv --no-config pip compile -q --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(STAMP)
	$(UV_COMPILE) --python-platform x86_64-manylinux2014 requirements.txt -o requirements.lock
	$(UV_COMPILE) --python-platform x86_64-unknown-linux-gnu -c requirements.lock \
	  requirements-dev.txt -o requirements-dev.lock

# The local MQTT broker is mosquitto when the machine has it or can install it
# (Debian/Ubuntu as root); otherwise the local stack falls back to the amqtt broker from PyPI.
broker:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null 2>&1) ; } || \
	  echo "mosquitto not available: using the amqtt fallback broker"

run: $(STAMP) broker
	$(PY) -m infra.local $(ARGS)

# The suite on 2 pytest-xdist workers (most of its time is waiting on the local stack);
# tests/support/workers.py groups the tests that share a costly session fixture on one worker.
# `make test TEST_WORKERS=0` runs it in one process, in file order; PYTEST_ARGS go to pytest.
TEST_WORKERS ?= 2
test: $(STAMP) broker
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

synth: $(STAMP)
	$(PY) -m infra.aws.synth

# docs/openapi.json: the API contract generated from the routes and their models.
openapi: $(STAMP)
	$(PY) -m infra.openapi

# The micro benchmarks on one core; then the load run against a started local stack (moto, the
# app and mosquitto on both cores), merged into the same results file.
bench: $(STAMP) broker
	$$(command -v taskset >/dev/null && echo taskset -c 0) $(PY) -m tests.bench
	$(PY) -m tests.load

token: $(STAMP)
	$(PY) -m infra.local.tokens $(ROLE)

simulate: $(STAMP)
	$(PY) -m infra.local.simulator $(ARGS)

charge: $(STAMP)
	$(PY) -m infra.local.charger_simulator charge $(ARGS)

clean:
	rm -rf $(VENV) .local cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
