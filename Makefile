# parkcharge developer commands. `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint synth bench broker clean token simulate charge

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# The local MQTT broker is mosquitto when the machine has it or can install it
# (Debian/Ubuntu as root); otherwise the local stack falls back to the amqtt broker from PyPI.
broker:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null 2>&1) ; } || \
	  echo "mosquitto not available: using the amqtt fallback broker"

run: $(STAMP) broker
	$(PY) -m infra.local $(ARGS)

test: $(STAMP) broker
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

synth: $(STAMP)
	$(PY) -m infra.aws.synth

bench: $(STAMP)
	$$(command -v taskset >/dev/null && echo taskset -c 0) $(PY) -m tests.bench

token: $(STAMP)
	$(PY) -m infra.local.tokens $(ROLE)

simulate: $(STAMP)
	$(PY) -m infra.local.simulator $(ARGS)

charge: $(STAMP)
	$(PY) -m infra.local.charger_simulator charge $(ARGS)

clean:
	rm -rf $(VENV) .local cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
