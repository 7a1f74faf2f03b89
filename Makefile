# kbench: two-command quick start (`make demo`, `make test`); every target is idempotent.
# The interpreter of .venv: the distribution's CPython (/usr/bin/python3) when it is 3.11 or later and
# can make a venv, else python3 from PATH; `make PY=...` chooses another. Distributions build CPython
# with profile-guided optimisation and LTO and link libpython statically; pyenv's default build has
# neither and a shared libpython. On this project's machine the same kbench code gives identical
# results ~15 % faster on Debian's 3.11.2 than on pyenv's 3.11.7 (docs/ENGINE_PLAN.md, eleventh session).
PY ?= $(shell /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
	>/dev/null 2>&1 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-sync test test-live bench lint venv clean
.PHONY: fuzz digest digest-check
.PHONY: validate validate-full validation-doc validation-doc-fgd fgd-repro

$(BIN)/python:
	$(PY) -m venv $(VENV)

# pip byte-compiles what it installs on one core (~55 s here); compileall does the same on every core
# (~20 s). Like pip, a file that does not compile is not an error. Byte-code matters where
# PYTHONDONTWRITEBYTECODE is set: every process would otherwise compile what it imports.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test,dask]'
	-$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') >/dev/null
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/kbench run workloads/demo.yaml --report

demo-sync: $(STAMP)
	$(BIN)/kbench sync workloads/sync-demo.yaml --strategy poll --strategy list-watch --strategy watch-list

# The live etcd tests first and alone (they measure this machine and need it quiet), then the rest on
# TEST_JOBS processes (pytest-xdist; one module per process at a time, so module fixtures run once).
TEST_JOBS ?= auto
test: $(STAMP)
	-$(BIN)/python -m compileall -q -j 0 kbench policies tests >/dev/null
	$(BIN)/python -m pytest -q -m "live and not slow" tests/live --durations=3 -rP
	$(BIN)/python -m pytest -q -m "not slow and not live" -n $(TEST_JOBS) --dist loadscope --durations=15

# The model against a real etcd started on this machine (Debian's etcd-server); make test runs it too.
test-live: $(STAMP)
	$(BIN)/python -m pytest -q -m live tests/live -s

bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable --benchmark-autosave -m "" -q

# Long fuzz run of the scenario, profile and trace loaders (make test runs a few examples each).
fuzz: $(STAMP)
	KBENCH_FUZZ=1 $(BIN)/python -m pytest tests/fuzz -q -m ""

# Result digests (kbench digest): `make digest` before a change that should not move results,
# `make digest-check` after it (exit 1 and the parts that moved when it did).
DIGEST ?= results/digest.json
digest: $(STAMP)
	@mkdir -p $(dir $(DIGEST))
	$(BIN)/kbench digest -o json > $(DIGEST).tmp && mv $(DIGEST).tmp $(DIGEST)
	@echo "wrote $(DIGEST)"

digest-check: $(STAMP)
	$(BIN)/kbench digest --against $(DIGEST)

lint: $(STAMP)
	$(BIN)/ruff check kbench policies workloads tests

clean:
	rm -rf $(VENV) build dist *.egg-info

# -- validation (kbench validate, docs/VALIDATION.md, FGD reproduction)
validate: $(STAMP)
	$(BIN)/kbench validate --quick

validate-full: $(STAMP)
	$(BIN)/kbench validate

# Regenerates the figures between the markers of docs/VALIDATION.md (VALIDATE=--quick for the quick sizes).
VALIDATE ?=
validation-doc: $(STAMP)
	$(BIN)/python -m kbench.validate.doc $(VALIDATE) $(if $(wildcard $(FGD_OUT)/fgd-table.md),--fgd $(FGD_OUT)/fgd-table.md)

# Copies $(FGD_OUT)/fgd-table.md into docs/VALIDATION.md without rerunning the validation suite.
validation-doc-fgd: $(STAMP)
	$(BIN)/python -m kbench.validate.doc --fgd $(FGD_OUT)/fgd-table.md --fgd-only

# The FGD paper's headline experiment: 6 policies x seeds 42-51 on the default openb pod list and the
# 16 variants FGD.md §1.4 names, placement-only (fgd-openb.yaml declares it), FGD_JOBS processes;
# FGD_LISTS / FGD_SEEDS narrow it (e.g. FGD_LISTS=default FGD_SEEDS=2).
FGD_LISTS ?= default cpu050 cpu100 cpu200 cpu250 gpushare40 gpushare60 gpushare80 gpushare100 \
	gpuspec10 gpuspec20 gpuspec25 gpuspec33 multigpu20 multigpu30 multigpu40 multigpu50
FGD_SEEDS ?= 10
FGD_OUT ?= results/fgd-repro
FGD_JOBS ?= 2
FGD_FLAGS ?=
fgd-repro: $(STAMP)
	$(BIN)/python -m kbench.validate.fgdrepro --lists "$(FGD_LISTS)" --seeds $(FGD_SEEDS) --jobs $(FGD_JOBS) --out $(FGD_OUT) $(FGD_FLAGS)
