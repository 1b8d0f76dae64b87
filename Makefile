# curvegan: `make help` lists the targets. Everything runs in a local virtual environment, .venv/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU users get a CPU build of torch (on PyPI for Linux x86 the plain wheel is the multi-GB CUDA build; point
# TORCH_INDEX at https://download.pytorch.org/whl/cpu there). GPU users: `make install-gpu`.
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
ARGS ?=

.PHONY: help install install-gpu train test test-slow test-slurm test-all bench compare modes metrics pictures leaderboard literature tensorboard lint format clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[dev,sweep,mlflow,wandb]'
	touch $@

install: $(VENV)/.installed ## create .venv: CPU torch, curvegan (editable), test tools, sweep plugins, trackers

install-gpu: ## the same with a CUDA build of torch (from PyPI)
	rm -f $(VENV)/.installed
	$(MAKE) install TORCH='torch>=2.6,<=2.14.1'

train: install ## the default training run (the seed's GAN, 6000 G updates); extra overrides: ARGS="..."
	$(PY) -m curvegan.train $(ARGS)

test: install ## the test suite (fast tests; a few minutes on 2 CPU cores)
	$(PY) -m pytest -q

test-slow: install ## only the slow tests (long runs, sweeps through the plugins, the wheel, the notebook)
	$(PY) -m pytest -q -m slow

test-slurm: install ## sweeps on a one-node SLURM cluster it starts and stops (installs Debian's SLURM: root)
	@state=$$(mktemp -d); trap 'CURVEGAN_SLURM_STATE='"$$state"' tests/slurm/stop.sh' EXIT; \
	  eval "$$(CURVEGAN_SLURM_STATE=$$state tests/slurm/start.sh)" && $(PY) -m pytest -q -m slurm tests/test_slurm.py

test-all: install ## every test but SLURM's, the slow ones included
	$(PY) -m pytest -q -m "not slurm"

bench: install ## speed tables: the plain loop vs one run, and ensembles of 1 to 1024 GANs (about 20 minutes)
	$(PY) benchmarks/speed.py $(ARGS)
	$(PY) benchmarks/ensemble.py --pairs 3 --joblib 8

# Each setting's seeds train as one ensemble (ensemble.size): small ensembles two at a time on the joblib
# launcher, one thread each; a large one alone, on every core.
QUIET := logger=none callbacks.monitor.gif_path=null
SEARCH := $(QUIET) cpu_threads=1 hydra/launcher=joblib

compare: install ## every objective over 5 seeds, experiment=best over 64 -> docs/compare.md, docs/compare.png
	rm -rf multirun/compare && mkdir -p multirun/compare && date +%s > multirun/compare/started
	$(PY) -m curvegan.train -m $(SEARCH) objective=$$($(PY) -m curvegan.registry objective) ensemble.size=5 \
	  hydra.sweep.dir=multirun/compare/objectives
	$(PY) -m curvegan.train -m $(QUIET) experiment=best ensemble.size=64 hydra.sweep.dir=multirun/compare/best
	$(PY) -m curvegan.report multirun/compare --out multirun/compare --summary > docs/compare.md
	echo >> docs/compare.md
	$(PY) -m curvegan.report multirun/compare --out multirun/compare/versus --summary \
	  --versus "ensemble.size=5 objective=wgan_gp" "ensemble.size=5 objective=bce" | sed -n '/^## Verdict/,$$p' \
	  | grep -v '^wrote ' >> docs/compare.md
	echo "\`make compare\` took $$(( $$(date +%s) - $$(cat multirun/compare/started) )) s, end to end; the plain" \
	  "PyTorch loop runs $$($(PY) benchmarks/plain_loop.py | sed 's/.*updates_per_s": \([0-9]*\).*/\1/') G updates/s" \
	  "on this machine (benchmarks/plain_loop.py)." >> docs/compare.md
	cp multirun/compare/report.png docs/compare.png

modes: install ## the mode-collapse test bed: objectives × pack 1, 2, 4 over 8 seeds, modes_best over 32 -> docs/modes.md
	rm -rf multirun/modes
	$(PY) -m curvegan.train -m $(SEARCH) data=modes objective=$$($(PY) -m curvegan.registry objective) model.pack=1,2,4 \
	  ensemble.size=8 hydra.sweep.dir=multirun/modes/grid
	$(PY) -m curvegan.train -m $(QUIET) experiment=modes_best ensemble.size=32 hydra.sweep.dir=multirun/modes/best
	$(PY) -m curvegan.report multirun/modes --out multirun/modes --metrics modes_captured,hq_fraction,mode_kl --summary \
	  > docs/modes.md
	cp multirun/modes/report.png docs/modes.png

metrics: install ## the generic metrics against the exact ones (about 30 minutes) -> docs/metrics_numbers.md, docs/metrics.png
	$(PY) benchmarks/metrics_study.py --out docs --work multirun/metrics

pictures: install ## the README's pictures and TensorBoard screenshots (needs chromium) -> docs/
	$(PY) benchmarks/pictures.py --out docs --work multirun/pictures

leaderboard: install ## every GAN idea tuned at equal budget on every exact family, 64 fresh seeds each -> docs/leaderboard.md
	$(PY) benchmarks/leaderboard.py $(ARGS)

literature: install ## PacGAN's Table 1, ring and grid, on a GPU (ARGS="--updates 50000" for less) -> docs/literature.md
	$(PY) benchmarks/literature.py --out docs --work multirun/literature $(ARGS)

tensorboard: install ## TensorBoard over every run and sweep
	$(VENV)/bin/tensorboard --logdir_spec outputs:outputs,multirun:multirun

lint: install ## ruff: lint and format check
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: install ## ruff: fix imports and format
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean: ## remove run outputs and caches (keeps .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
