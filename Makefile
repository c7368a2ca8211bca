# Convolution Knobs: one entry point for readers, students, instructors, maintainers and CI.
#
#   make book        build the site into book/_build/html (and serve + open it from a terminal)
#   make test        the whole test suite; this is what .ci/run calls
#   make lab         JupyterLab on book/ with the project's environment
#   make help        every target
#
# Everything runs inside $(VENV) (default .venv at the repository root), created on demand with
# Python 3.11 (or python3) and `pip install -e '.[dev]'`. An existing venv is adopted, never
# recreated: the install step re-runs only when pyproject.toml changes (its hash is kept in
# $(VENV)/.stamp).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
# `jupyter book` starts `jupyter server` to execute notebooks: it must find the venv's.
export PATH := $(BIN):$(PATH)

# The Jupyter Book 2 theme. MyST downloads it on the first build; machines without internet use
# the prebuilt copy in ../shared when it exists (unpacked where MyST looks for its cache).
SHARED ?= ../shared
THEME_TGZ := $(SHARED)/vendor/myst-book-theme-1.3.1.tar.gz
THEME_DIR := book/_build/templates/site/myst/book-theme

# The stylesheets the theme links on CDNs (KaTeX, Font Awesome, ipympl's widget CSS) come from npm
# and are served by the site itself (`python -m conv_lib.tools.site_offline` relinks the theme).
# KaTeX is pinned to the version the theme renders math with (book-theme 1.3.1 bundles 0.15.6);
# the theme links ipympl's CSS 0.11.3, which npm no longer has: 0.12.0's is the same stylesheet.
KATEX_VERSION := 0.15.6
NPM_DIR := build/npm
VENDOR_NPM := katex@$(KATEX_VERSION) font-awesome@4.7.0 jupyter-matplotlib@0.12.0

PORT ?= 8000
PYTEST_WORKERS ?= 2
# Notebooks that `make test` runs with nbval (the lead may append e.g. solutions/*.ipynb).
NBVAL_NOTEBOOKS ?= $(sort $(wildcard book/*.ipynb))
NBVAL_CELL_TIMEOUT ?= 300
SUBMISSIONS ?=
GRADEBOOK ?= gradebook.csv

.PHONY: help venv theme esbuild widgets golden site book serve test lab exercises grade clean

help:
	@echo "make book       build the book (HTML in book/_build/html); serves and opens it from a terminal"
	@echo "make test       run the whole test suite (JS tests, book notebooks with nbval, pytest tests/)"
	@echo "make lab        open JupyterLab on book/ with the project's environment"
	@echo "make serve      serve the built book at http://localhost:$(PORT)/"
	@echo "make exercises  regenerate the exercise notebooks (python -m conv_lib.tools.exercises)"
	@echo "make grade SUBMISSIONS='a.ipynb b.ipynb' [GRADEBOOK=gradebook.csv]"
	@echo "make widgets    rebundle the playground modules conv_lib/course/static/*.mjs from conv_lib/course/static/src/"
	@echo "make golden     regenerate tests/js/golden.json (the playgrounds' expected numbers) from conv_lib"
	@echo "make venv       create/refresh $(VENV) (no-op when pyproject.toml is unchanged)"
	@echo "make clean      remove build outputs (keeps $(VENV))"

# ---------------------------------------------------------------------------------------------
# Environment

define JUPYTER_ALLOW_ROOT_PY
import json, pathlib, sys
path = pathlib.Path(sys.argv[1])
config = json.loads(path.read_text()) if path.exists() else {}
if config.get("ServerApp", {}).get("allow_root") is not True:
    config.setdefault("ServerApp", {})["allow_root"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
endef
export JUPYTER_ALLOW_ROOT_PY

venv:
	@if [ ! -x "$(PY)" ]; then \
	  test -n "$(PYTHON)" || { echo "error: need python3.11 or python3 on PATH" >&2; exit 1; }; \
	  echo "Creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv "$(VENV)"; \
	fi
	@key="$$(sha256sum pyproject.toml | cut -d' ' -f1)"; \
	if [ "$$(cat "$(VENV)/.stamp" 2>/dev/null)" != "$$key" ]; then \
	  echo "Installing the project into $(VENV): pip install -e '.[dev]'"; \
	  "$(PY)" -m pip install -e '.[dev]' && echo "$$key" > "$(VENV)/.stamp"; \
	fi
	@# Jupyter Book executes notebooks through a Jupyter server, which refuses to run as root
	@# (and then silently executes nothing) unless this is set.
	@"$(PY)" -c "$$JUPYTER_ALLOW_ROOT_PY" "$(VENV)/etc/jupyter/jupyter_server_config.json"

# ---------------------------------------------------------------------------------------------
# The site

theme: venv
	@if [ -f "$(THEME_DIR)/template.yml" ]; then :; \
	elif [ -f "$(THEME_TGZ)" ]; then \
	  echo "Unpacking the vendored book-theme into $(THEME_DIR)"; \
	  mkdir -p "$(THEME_DIR)" && tar xzf "$(THEME_TGZ)" -C "$(THEME_DIR)"; \
	else echo "No vendored theme at $(THEME_TGZ): Jupyter Book will download book-theme."; fi
	@if [ -f "$(THEME_DIR)/template.yml" ]; then \
	  for pkg in $(VENDOR_NPM); do \
	    if ! grep -q "\"version\": \"$${pkg##*@}\"" "$(NPM_DIR)/node_modules/$${pkg%@*}/package.json" 2>/dev/null; then \
	      echo "npm install $(VENDOR_NPM) into $(NPM_DIR)"; mkdir -p "$(NPM_DIR)"; \
	      npm install --prefix "$(NPM_DIR)" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error $(VENDOR_NPM); \
	      break; \
	    fi; \
	  done; \
	  "$(PY)" -m conv_lib.tools.site_offline "$(THEME_DIR)" "$(NPM_DIR)/node_modules"; \
	fi

# Kernels that execute the book for the site have no widget frontend: MyST's kernel client
# registers no comm targets, so every ipywidgets/anywidget object created during execution used
# to be answered with "Exception opening new comm" in the build log (one line per widget). This
# IPython startup file, loaded only by those kernels (IPYTHONDIR below), gives widgets inert comms;
# their outputs (static figure, note, widget view) are unchanged.
STATIC_IPYTHONDIR := build/ipython-static
define STATIC_KERNEL_STARTUP_PY
# Generated by `make site`: kernels that execute the static book have no widget frontend.
import comm


def _inert_comm(*args, **kwargs):
    return comm.DummyComm(*args, **kwargs)


comm.create_comm = _inert_comm
endef
export STATIC_KERNEL_STARTUP_PY

# The HTML build, exactly as `make book` and tests/test_site.py run it. --strict makes a notebook
# error (or any MyST warning) fail the build. Notebooks whose outputs are already in MyST's cache
# (book/_build/execute, e.g. written by the nbval run of `make test`) are not executed again.
#
# MyST keys that cache on the notebooks' code only, but the outputs also depend on conv_lib and on
# the stored benchmark results: entries older than the newest of those files are deleted first,
# so that changing conv_lib (or re-running the benchmark) and running `make book` re-executes.
NOTEBOOK_INPUTS = $(wildcard conv_lib/*.py conv_lib/course/*.py conv_lib/course/*/*.py conv_lib/course/static/*.mjs benchmarks/*.py benchmarks/*.json)
site: venv theme
	@mkdir -p "$(STATIC_IPYTHONDIR)/profile_default/startup"
	@printf '%s\n' "$$STATIC_KERNEL_STARTUP_PY" > "$(STATIC_IPYTHONDIR)/profile_default/startup/00-no-widget-frontend.py"
	@newest=$$(ls -t $(NOTEBOOK_INPUTS) | head -n 1); \
	  if [ -d book/_build/execute ] && \
	     [ -n "$$(find book/_build/execute -name '*.ipynb' ! -newer "$$newest" -print -quit)" ]; then \
	    echo "Dropping cached notebook outputs older than $$newest"; \
	    find book/_build/execute -name '*.ipynb' ! -newer "$$newest" -delete; \
	  fi
	@# MyST leaves the Jupyter server it started for execution running: stop it after the build.
	cd book && status=0 && IPYTHONDIR="$(abspath $(STATIC_IPYTHONDIR))" \
	  jupyter book build --html --execute --strict || status=$$?; \
	  pkill -f "[j]upyter_server --ServerApp.root_dir $(CURDIR)/book" || true; exit $$status

book: site
	@echo "The book is in $(CURDIR)/book/_build/html (serve it with: make serve)"
	@if [ -t 1 ] && [ -z "$${CI:-}" ] && [ -z "$${NO_SERVE:-}" ]; then \
	  $(MAKE) --no-print-directory serve OPEN=1; \
	fi

serve:
	@test -f book/_build/html/index.html || { echo "Nothing built yet: run make book" >&2; exit 1; }
	@echo "Serving the book at http://localhost:$(PORT)/ (Ctrl-C to stop)"
	@if [ -n "$(OPEN)" ]; then \
	  ( sleep 1; "$(PY)" -m webbrowser -t "http://localhost:$(PORT)/" >/dev/null 2>&1 || true ) & \
	fi; \
	"$(PY)" -m http.server "$(PORT)" --bind 127.0.0.1 --directory book/_build/html

# ---------------------------------------------------------------------------------------------
# The playgrounds: each widget is ONE self-contained ES module (MyST's {anywidget} copies only the
# named file), bundled by esbuild from conv_lib/course/static/src/. The bundles are committed; the tests
# check them for drift against src/ and check tests/js/golden.json against conv_lib.

ESBUILD_VERSION := 0.28.2
ESBUILD_DIR := build/esbuild

esbuild:
	@if ! grep -qs '"version": "$(ESBUILD_VERSION)"' "$(ESBUILD_DIR)/node_modules/esbuild/package.json"; then \
	  echo "npm install esbuild@$(ESBUILD_VERSION) into $(ESBUILD_DIR)"; \
	  mkdir -p "$(ESBUILD_DIR)"; \
	  npm install --prefix "$(ESBUILD_DIR)" --no-save --no-audit --no-fund --loglevel=error "esbuild@$(ESBUILD_VERSION)"; \
	fi

widgets: esbuild
	node conv_lib/course/static/build.mjs

golden: venv
	"$(PY)" -m tests.golden

# ---------------------------------------------------------------------------------------------
# Tests
#
# Each book notebook is executed exactly once per `make test`:
#   1. nbval --nbval-lax runs every book notebook (one kernel per notebook; --dist loadfile keeps
#      a notebook's cells on one xdist worker, in order). The plugin tests/nbval_myst_cache.py
#      records the outputs of each notebook that ran cleanly as MyST's execution cache.
#   2. pytest runs tests/ in parallel. tests/test_site.py builds the site with the `make site`
#      command above (--execute --strict); MyST finds every notebook in its cache and renders
#      nbval's outputs instead of executing again (the test asserts that it did).
# A failing notebook fails step 1, gets no cache entry, and so also fails the site build.
test: venv esbuild
	@status=0; \
	if [ -d tests/js ]; then \
	  echo "== JavaScript tests: node --test tests/js/"; \
	  node --test tests/js/ || status=1; \
	fi; \
	if [ -n "$(strip $(NBVAL_NOTEBOOKS))" ]; then \
	  echo "== Notebooks: pytest --nbval-lax $(NBVAL_NOTEBOOKS)"; \
	  "$(PY)" -m pytest -p tests.nbval_myst_cache --nbval-lax --nbval-current-env \
	    --nbval-cell-timeout=$(NBVAL_CELL_TIMEOUT) -n $(PYTEST_WORKERS) --dist loadfile \
	    $(NBVAL_NOTEBOOKS) || status=1; \
	fi; \
	echo "== Test suite: pytest tests/"; \
	CK_SITE_AFTER_NBVAL=1 "$(PY)" -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 \
	  tests/ || status=1; \
	exit $$status

# ---------------------------------------------------------------------------------------------
# Students and instructors

lab: venv
	jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/book

exercises: venv
	"$(PY)" -m conv_lib.tools.exercises

FEEDBACK ?= feedback
GRADE_OPTS ?=
grade: venv
	@test -n "$(strip $(SUBMISSIONS))" || { echo "usage: make grade SUBMISSIONS='folder or notebooks' [GRADEBOOK=gradebook.csv] [FEEDBACK=feedback] [GRADE_OPTS='--jobs 2']" >&2; exit 2; }
	"$(PY)" -m conv_lib.grade $(SUBMISSIONS) --out "$(GRADEBOOK)" --feedback-dir "$(FEEDBACK)" $(GRADE_OPTS)

clean:
	rm -rf book/_build build .pytest_cache .hypothesis *.egg-info
	find . -path ./.venv -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
