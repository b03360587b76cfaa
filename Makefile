# Two commands on a fresh machine: `make run` and `make test`. Only python3 (3.11+) is needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint install migration lock clean

$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## Start embedded PostgreSQL and NATS (unless BPM_DATABASE_URL / BPM_NATS_URL are set),
## the five services, and seed the demo organisation and processes. Ctrl-C stops everything.
run: $(STAMP)
	$(PY) -m bpm_stack run

## Every test, against real PostgreSQL and NATS (embedded unless the variables point elsewhere).
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## The speed figures of the issues, printed and written to .bench/latest.json.
bench: $(STAMP)
	$(PY) -m bpm_stack.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## make migration service=runtime message="add tasks" (needs BPM_DATABASE_URL)
migration: $(STAMP)
	$(PY) -m bpm_stack migration $(service) "$(message)"

## Regenerate the lock files from pyproject.toml: requirements.lock for the image,
## requirements-dev.lock (adds test and benchmark tools) for development and CI.
lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache
