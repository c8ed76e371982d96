# Two commands on a fresh machine with Python 3.10+:
#   make notebooks   create .venv, install, execute every notebook in place (embedded dataset)
#   make test        create .venv, install, run the unit tests and every notebook under nbval
# Also: make lab (open the series in JupyterLab), make bench, make clean.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install notebooks test test-full checks checks-full lab notebook bench clean site slides student wheelhouse \
        class-cache hub hub-test

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch first and alone, so no other requirement can pull a different (CUDA) build
	$(PY) -m pip install $$(grep '^torch==' requirements.txt)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vae-helpers)"
	touch $@

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py

test: $(STAMP)
	$(PY) -m pytest

# The whole series on a full dataset (its IDX files from $$VAE_HELPERS_DATA_DIR, the cache, or downloaded):
# every notebook top to bottom, every check cell asserted, its time printed; nothing is stored.
DATASET ?= mnist
test-full: $(STAMP)
	$(PY) tools/execute_notebooks.py --dataset $(DATASET)

# Every check of every notebook with its subject and counterfactual values, from the stored outputs;
# checks-full executes the series on DATASET first. Both end with "checks whose counterfactual fails: N of M".
checks: $(STAMP)
	$(PY) tools/list_checks.py

checks-full: $(STAMP)
	$(PY) tools/list_checks.py --dataset $(DATASET)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb

notebook: $(STAMP)
	$(VENV)/bin/jupyter notebook notebooks/00_start_here.ipynb

# Every number in benchmarks/RESULTS.md (full MNIST parts are skipped, with a message, when its files are absent)
bench: $(STAMP)
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/step_profile.py
	$(PY) benchmarks/thread_policy.py
	$(PY) benchmarks/class_arrives.py
	$(PY) benchmarks/notebook_times.py
	$(PY) benchmarks/notebook_times.py --threads 1
	$(PY) benchmarks/growth.py

# A class on JupyterHub (README, "Teaching a class on JupyterHub"). class-cache: the teacher trains every model
# once into SHARED_CACHE (an absolute path is used), then makes it read-only. hub: a hub on 127.0.0.1:8000 to try
# it (HUB_PASSWORD, 8 characters or more, required; not as root; the local spawner does not isolate learners).
# hub-test: LEARNERS simulated learners (default 8) log in and run notebook 02 at once, with and without the
# shared cache, and one alone; it stops every process it started and ends with "hub: N learners, N finished, ...".
SHARED_CACHE ?= /srv/vae-models
LEARNERS ?= 8
class-cache: $(STAMP)
	mkdir -p $(abspath $(SHARED_CACHE)) && chmod -R u+w $(abspath $(SHARED_CACHE))
	$(PY) tools/execute_notebooks.py --cache $(abspath $(SHARED_CACHE))
	chmod -R a+rX,a-w $(abspath $(SHARED_CACHE))

hub: $(STAMP)
	$(PY) -c "import sys; sys.path.insert(0, 'tools'); import vendor; vendor.ensure_node_modules()"
	mkdir -p $${HUB_ROOT:-.cache/hub}
	cd $${HUB_ROOT:-.cache/hub} && HUB_ROOT=$$PWD VAE_HELPERS_SHARED_CACHE=$(abspath $(SHARED_CACHE)) \
		PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(VENV))/bin/jupyterhub -f $(CURDIR)/hub/jupyterhub_config.py

hub-test: $(STAMP)
	$(PY) tools/hub_test.py --learners $(LEARNERS)

# Built from the stored notebooks (git-ignored folders): the offline course website (site/index.html), a reveal.js
# deck per notebook (slides/index.html), the learners' notebooks without solutions (student/). site and slides
# bundle MathJax and reveal.js from the npm packages pinned in package-lock.json (npm ci runs when needed).
site: $(STAMP)
	$(PY) tools/build_site.py

slides: $(STAMP)
	$(PY) tools/build_slides.py

student: $(STAMP)
	$(PY) tools/make_student.py

# Wheels of every pinned requirement (CPU torch included) and of vae-helpers, for tools/install_offline.sh
wheelhouse: $(STAMP)
	$(PY) tools/build_wheelhouse.py

clean:
	rm -rf $(VENV)
