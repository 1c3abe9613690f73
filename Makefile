# Herald: `make run` starts everything on this machine; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-postgres test-sqlite lint format bench-contacts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Web, Celery worker and beat together on the embedded SQLite database and filesystem broker,
# under a supervisor (config/supervisor.py) that restarts any of them that dies and says so.
# Ctrl-C stops all three, and so does stopping make alone (kill <make's pid>): make does not
# pass its signal on, so the supervisor watches make and stops the rest when it is gone.
# Safe to run again: migrations and demo data are idempotent.
run: export DJANGO_DEBUG ?= 1
run: install
	@mkdir -p var/static
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --url http://$(HOST):$(PORT)/
	$(PY) manage.py seed_conversations
	@exec $(PY) -m config.supervisor --watch-pid $$PPID \
		"web=$(PY) manage.py runserver $(HOST):$(PORT)" \
		"worker=$(VENV)/bin/celery -A config worker --pool=solo --loglevel=INFO" \
		"beat=$(VENV)/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule"

# The whole suite twice: on PostgreSQL (with the integration tests, which run real Celery
# workers on PostgreSQL and Redis: by default the local servers, which CI's .ci/run starts;
# set DATABASE_URL / CELERY_BROKER_URL to use others), then everything else on SQLite, the
# embedded default `make run` uses. lint-imports first checks the layers: no import may
# point up (pyproject.toml).
test: test-postgres test-sqlite

test-postgres: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/herald
test-postgres: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
test-postgres: install
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

test-sqlite: install
	DATABASE_URL=sqlite:// $(PY) -m pytest --ignore=tests/integration

lint: install
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var $(VENV)
