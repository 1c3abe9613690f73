# Herald: `make run` starts everything on this machine; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench-contacts clean

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
	@exec $(PY) -m config.supervisor --watch-pid $$PPID \
		"web=$(PY) manage.py runserver $(HOST):$(PORT)" \
		"worker=$(VENV)/bin/celery -A config worker --pool=solo --loglevel=INFO" \
		"beat=$(VENV)/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule"

# The integration tests run real Celery workers on PostgreSQL and Redis: by default the
# local servers (CI's .ci/run starts them); set DATABASE_URL / CELERY_BROKER_URL to use others.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/herald
test: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
# lint-imports checks the layers first: no import may point up (pyproject.toml).
test: install
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

lint: install
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var $(VENV)
