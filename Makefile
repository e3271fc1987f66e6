# Every target that needs the virtualenv depends on it, so each works as the first command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test test-fast lint docs demo bench dist clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

# Unit, CLI and the in-memory half of the contract suite: no sandbox, no server (see tests/conftest.py).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration"

lint: setup
	$(BIN)/ruff check migrator tests bench
	$(BIN)/ruff format --check migrator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory docs

# The docs site (docs/, mkdocs.yml), built --strict into a temporary folder: any warning (a broken link or anchor,
# a page missing from the navigation) fails. It fetches nothing (see mkdocs.yml). NO_MKDOCS_2_WARNING silences
# Material's banner about MkDocs 2.0, which is no warning about this site. No --quiet: it hides the warnings from
# --strict too, and the build passes with them. `mkdocs serve` shows the site while editing.
docs: setup
	site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir "$$site"

demo: setup
	$(BIN)/aws-auth-migrate sandbox demo plans/examples/scenario-large.yaml

bench: setup
	$(BIN)/python bench/run.py

# The sdist and the wheel a user installs (dist/), checked as PyPI would read them.
dist: setup
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist site
