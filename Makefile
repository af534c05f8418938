# The two commands: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

VENDOR := app/board/static/vendor

.PHONY: run test install install-test migrate demo bench bench-growth clean chromium poppler fonts

run: install migrate demo  ## Install, migrate, load demo data and serve the county on :5000, its city bureau on :5001
	$(FLASK) demo serve-bureaus --host 127.0.0.1 --port 5000 --city-port 5001

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

install: $(VENV)/.installed $(VENDOR)/socket.io.min.js fonts

install-test: $(VENV)/.installed-test $(VENDOR)/socket.io.min.js chromium poppler fonts

# The boards' Socket.IO client comes from its npm package, pinned by package-lock.json:
# never from a CDN, never committed (app/board/static/vendor/ is ignored by git).
$(VENDOR)/socket.io.min.js: package.json package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq npm)
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/socket.io-client/dist/socket.io.min.js $@

# The browser tests drive Debian's chromium through playwright (`playwright install` cannot
# download here); CI runs as root on a clean machine, so install it when it is missing.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The briefing tests read the PDFs as a reader's tools would: pdftotext, pdffonts, pdftoppm.
poppler:
	@command -v pdftotext >/dev/null || (apt-get update -qq && apt-get install -y -qq poppler-utils)

# Official documents (公文) set 宋/仿宋, 楷 and 黑 in Debian's free CJK TrueType fonts, found at their
# Debian paths (reports/official_document/fonts.py). Without apt-get (not Debian) they fall back, with a
# warning, to the shipped WenQuanYi Micro Hei: the PDF is still made.
FONT_FILES := /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/arphic/ukai.ttc \
	/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
fonts:
	@for f in $(FONT_FILES); do test -f $$f || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq fonts-arphic-uming fonts-arphic-ukai fonts-wqy-zenhei; \
	  else echo "make fonts: no apt-get; official documents use the shipped WenQuanYi Micro Hei" >&2; fi; \
	fi

migrate: install
	$(FLASK) db upgrade

demo: install
	$(FLASK) demo load

bench: install-test  ## Run the benchmarks (needs PostgreSQL)
	$(BIN)/python -m bench

# Seeds yingji_bench_growth_{1,10,city} unless a run already did (1 %, 10 % and all of a city's 5 years;
# the city takes 10-15 minutes and several GB), keeps them for later runs, and times the daily pages on each.
# Drop them with: for s in 1 10 city; do dropdb -h 127.0.0.1 -U postgres yingji_bench_growth_$$s; done
bench-growth: install-test  ## Seed three sizes of a city's data (once) and time the daily pages on each (needs PostgreSQL)
	$(BIN)/python -m bench.growth --scales 1,10,city --reuse

clean:
	rm -rf $(VENV) instance node_modules $(VENDOR)
