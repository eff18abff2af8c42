# On a fresh Debian 12 / Raspberry Pi OS checkout, `make run` and `make test`
# are all that is needed: both set up what they lack via scripts/bootstrap.sh.
#   make run ARGS="--port 9000"      make test PYTEST_ARGS="-k kiosk -x"

VENV := .venv
BIN  := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=

# The stamps record a finished bootstrap; it re-runs only when one of these
# changes, so everyday runs skip pip (and apt) entirely.
SETUP_INPUTS := pyproject.toml constraints.txt scripts/bootstrap.sh scripts/debian-packages.txt

.PHONY: help run central test lint typecheck bench clean
.DEFAULT_GOAL := help

help:
	@echo "make run [ARGS=...]          start hallq (demo hall with no ARGS)"
	@echo "make central [ARGS=...]      a demo central server the demo hall reports to"
	@echo "make test [PYTEST_ARGS=...]  lint + typecheck + pytest"
	@echo "make lint | typecheck | bench | clean"

$(VENV)/.stamp-runtime: $(SETUP_INPUTS)
	bash scripts/bootstrap.sh runtime
	touch $@

# dev installs a superset of runtime, so it refreshes both stamps.
$(VENV)/.stamp-dev: $(SETUP_INPUTS) scripts/debian-packages-dev.txt
	bash scripts/bootstrap.sh dev
	touch $@ $(VENV)/.stamp-runtime

# exec: Ctrl-C and systemd's signals reach hallq directly, not a shell.
run: $(VENV)/.stamp-runtime
	exec $(BIN)/hallq run $(ARGS)

# The demo central server (docs/CENTRAL.md); the demo hall (make run) reports to it.
central: $(VENV)/.stamp-runtime
	exec $(BIN)/hallq central run --demo $(ARGS)

# wildcard: ruff errors on a missing path, and git keeps no empty bench/.
lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check $(wildcard hallq tests bench)

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

# pytest exits 5 when it collected nothing; make fails on it anyway, but say why,
# since make itself reports every failure as exit 2.
test: $(VENV)/.stamp-dev lint typecheck
	@rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - that is a failure" >&2; fi; \
	exit $$rc

bench: $(VENV)/.stamp-dev
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
