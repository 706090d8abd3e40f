# The whole set-up on a fresh machine is `make demo` or `make test`: each creates .venv if
# needed, installs what it needs (again only when pyproject.toml changed), and runs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO   ?= demo-out

.PHONY: demo test test-slow bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[train,export,dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/videoedge demo --out $(DEMO)

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

bench: $(VENV)/.installed
	$(VENV)/bin/videoedge bench --out benchmarks/results

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache
