# ssmd developer actions. `make help` lists them; CI (.ci/run) runs the README's commands.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every workspace member: a directory under libs/ or services/ with a pyproject.toml.
MEMBERS := $(sort $(patsubst %/pyproject.toml,%,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml)))
SRC_DIRS := $(addsuffix /src,$(MEMBERS))
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help
help: ## List every developer action
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: ## Create .venv and install every member editable plus the dev tools (no root needed)
	@$(PYTHON) -c 'import sys; sys.exit("ssmd needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev $(addprefix -e ./,$(MEMBERS))
	@echo "ssmd: installed $(words $(MEMBERS)) members into $(VENV): $(notdir $(MEMBERS))"

.PHONY: test
test: ## Run the whole test suite against real servers (fails if no test ran)
	@rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

.PHONY: test-unit
test-unit: ## Run only the fast unit tests
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

.PHONY: demo
demo: ## Run the whole mesh locally on embedded servers (ssmd up); Ctrl-C stops it
	$(BIN)/ssmd up $(DEMO_ARGS)

.PHONY: lint
lint: ## ruff, ruff format --check, mypy strict, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(subst $(eval) ,:,$(SRC_DIRS)):bench $(BIN)/mypy $(SRC_DIRS) bench
	$(BIN)/lint-imports

.PHONY: fmt
fmt: ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: proto
proto: ## Regenerate proto/ (JSON Schemas and the AsyncAPI document) from ssmd.contracts
	$(BIN)/ssmd-proto --out proto

.PHONY: proto-check
proto-check: ## Fail if proto/ differs from what ssmd.contracts generates
	$(BIN)/ssmd-proto --out proto --check

.PHONY: bench
bench: ## Run every benchmark in bench/ and print its figures
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python "$$b"; done

.PHONY: clean
clean: ## Remove caches and local data (keeps .venv)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis .ssmd
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## Remove .venv too
	rm -rf $(VENV)
