# The two commands: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install install-test migrate demo bench clean

run: install migrate demo  ## Install, migrate, load demo data and serve on http://127.0.0.1:5000
	$(FLASK) serve --host 127.0.0.1 --port 5000

test: install-test  ## Install test dependencies and run the whole suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(FLASK) db upgrade

demo: install
	$(FLASK) demo load

bench: install-test  ## Run the benchmarks (needs PostgreSQL)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance
