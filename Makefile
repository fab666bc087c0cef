# Every target creates .venv if it is missing; nothing is assumed beyond python3.11 and make.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# two installations: what `rmapwalk review` needs (make demo, docs, tour, bench), and that plus the
# test and lint tools of the `dev` extra (make test, lint)
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# pip writes $(BIN)/rmapwalk as its console script; this writes it over as the fast client
# (docs/litmus.md, "Start-up and the cache"): native where the C compiler (CC, default cc) builds
# client.c, else a `python -S` script. Run after every pip install, which writes pip's back.
WRITE_CLIENT = CC='$(CC)' $(BIN)/python -m rmapwalk.fastclient $(BIN)/rmapwalk
CLIENT_STAMP := $(VENV)/.client

.PHONY: demo test lint bench docs clean sysdeps tour campaign client

# Debian packages some tests use (headless Chromium renders the --html page, Graphviz the --dot
# graph). Installed when apt-get can run (root); otherwise those tests skip and say why.
SYSDEPS := chromium graphviz

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(WRITE_CLIENT)
	@touch $(RUN_STAMP) $(CLIENT_STAMP)

$(STAMP): pyproject.toml $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(WRITE_CLIENT)
	@touch $(STAMP) $(CLIENT_STAMP)

# the client again when its sources change (or `make client`, after a pip install by hand)
$(CLIENT_STAMP): src/rmapwalk/fastclient.py src/rmapwalk/client.c $(RUN_STAMP)
	$(WRITE_CLIENT)
	@touch $(CLIENT_STAMP)

client: $(RUN_STAMP)
	$(WRITE_CLIENT)
	@touch $(CLIENT_STAMP)

# the main job: the review on the terminal, and as one page (review.html)
demo: $(CLIENT_STAMP)
	$(BIN)/rmapwalk review --jobs --html review.html

# the engine-only tour of the tutorial's examples
tour: $(CLIENT_STAMP)
	$(BIN)/python -m rmapwalk.demo

docs: $(CLIENT_STAMP)
	$(BIN)/rmapwalk review --full --mutations --jobs --markdown > docs/review.md
	$(BIN)/rmapwalk switches --markdown > docs/switches.md

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages:$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
			>/dev/null) || echo "could not install$$missing: the tests that need them will skip"; \
	else echo "not root: not installing$$missing; the tests that need them will skip"; fi

test: $(STAMP) $(CLIENT_STAMP) lint sysdeps
	$(BIN)/pytest

# exactness, not speed: the engine under LKMM against linux-kernel.cat on random programs
PROGRAMS ?= 500
SEED ?= 4242
campaign: $(STAMP)
	$(BIN)/python benchmarks/lkmm_campaign.py --programs $(PROGRAMS) --seed $(SEED)

bench: $(CLIENT_STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/litmus.py
	$(BIN)/python benchmarks/rcu_chains.py
	$(BIN)/python benchmarks/lb_search.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/parallel.py
	$(BIN)/python benchmarks/mutate.py
	$(BIN)/python benchmarks/vs_genmc.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info review.html
