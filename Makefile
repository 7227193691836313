# coprs-infra: offline preview, tests and tools. Everything runs without a cloud or the Pulumi CLI.
STACK ?= dev
PYTHON ?= python3
VENV ?= venv
PY := $(VENV)/bin/python
PLAN_OUT ?= plan-$(STACK).json
ARGS ?=
VERBOSE ?=
SCHEMA ?= schema/pulumi-stack.schema.json
CHARTS_ARG = $(if $(CHARTS),--charts $(CHARTS))

.PHONY: help venv venv-offline plan test diff bench inventory audit doctor schema render

help:
	@echo "make plan [STACK=dev|prod] [PLAN_OUT=path.json] [VERBOSE=1] [ARGS=...]   offline preview: one-screen summary, plan JSON"
	@echo "make diff BASE=old.json HEAD=new.json [FORMAT=text|markdown]   resource-level diff of two plans, capacity delta"
	@echo "make audit [STACK=dev|prod] [AUDIT_DIR=dir] [ARGS=...]   policy pack offline: table + JSON/SARIF/Markdown; fails on mandatory violations"
	@echo "make doctor [STACK=...]                           preflight: Python, Pulumi CLI, stack file, secrets, policy config, Kubespray runner"
	@echo "make schema                                       regenerate $(SCHEMA) (editor validation of Pulumi.<stack>.yaml)"
	@echo "make bench [ARGS='--runs 1 --cases dev']          offline preview time, memory and plan size: dev, prod, 50 to 2,000 workers"
	@echo "make inventory [STACK=...] [INVENTORY_DIR=dir] [STACK_OUTPUTS=outputs.json]   Kubespray hosts.yaml + group_vars/ of a stack"
	@echo "make render [STACK=...] [CHARTS=dir] [ARGS=...]  render every Helm release (real Helm engine) into render-<stack>/"
	@echo "make test                                         the whole test suite"
	@echo "  CHARTS=dir (plan, audit, render): chart archives/folders instead of the chart cache (COPRS_CHART_CACHE)"

# One venv, two layers: the offline tools' requirements (plan, diff, audit, render, inventory, bench, doctor, schema)
# and, on top, the test suite's. A first run says so: creating the venv and installing takes a minute or two.
define install
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python 3.11 or newer is needed; $(PYTHON) is $$($(PYTHON) -V 2>/dev/null || echo 'not found'). Install one, then: make $(MAKECMDGOALS) PYTHON=python3.11" >&2; exit 2; }
	@if [ ! -x $(PY) ]; then echo "First run: creating $(VENV)/ and installing $(2) (a minute or two)..." >&2; \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip; \
	else echo "Installing $(2) into $(VENV)/ ($(1) changed)..." >&2; fi
	@$(PY) -m pip install --quiet -r $(1)
	@touch $@
endef

$(VENV)/.offline: requirements.txt requirements-offline.txt
	$(call install,requirements-offline.txt,what the offline preview needs)

$(VENV)/.installed: requirements.txt requirements-offline.txt requirements-dev.txt
	$(call install,requirements-dev.txt,the test suite's dependencies)
	@touch $(VENV)/.offline

venv-offline: $(VENV)/.offline
	@:
venv: $(VENV)/.installed
	@:

plan: venv-offline
	@$(PY) -m offline.plan --stack $(STACK) --out $(PLAN_OUT) $(if $(filter-out 0,$(VERBOSE)),--verbose) $(CHARTS_ARG) $(ARGS)

test: venv
	$(PY) -m pytest -q $(ARGS)

FORMAT ?= text
diff: venv-offline
	@test -n "$(BASE)" -a -n "$(HEAD)" || { echo "usage: make diff BASE=old.json HEAD=new.json [FORMAT=text|markdown]" >&2; exit 2; }
	@$(PY) -m offline.diff $(BASE) $(HEAD) --format $(FORMAT) $(ARGS)

bench: venv-offline
	$(PY) -m bench.run $(CHARTS_ARG) $(ARGS)

INVENTORY_DIR ?= inventory-$(STACK)
inventory: venv-offline
	$(PY) -m offline.inventory --stack $(STACK) --out $(INVENTORY_DIR) $(if $(STACK_OUTPUTS),--stack-outputs $(STACK_OUTPUTS)) $(ARGS)

AUDIT_DIR ?= audit-$(STACK)
audit: venv-offline
	@$(PY) -m offline.audit --stack $(STACK) --out $(AUDIT_DIR) $(CHARTS_ARG) $(ARGS)

# The host checks need nothing installed (a too-old Python is reported, not a pip error); the stack checks
# run in the offline venv.
doctor:
	@$(PYTHON) -m offline.doctor host --venv $(VENV) || exit $$?
	@$(MAKE) --no-print-directory venv-offline
	@$(PY) -m offline.doctor stack --stack $(STACK) $(ARGS)

schema: venv-offline
	$(PY) -m offline.schema --out $(SCHEMA)

RENDER_DIR ?= render-$(STACK)
render: venv-offline
	$(PY) -m offline.render --stack $(STACK) --out $(RENDER_DIR) $(CHARTS_ARG) $(ARGS)
