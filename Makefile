# coprs-infra: offline preview, tests and tools. Everything runs without a cloud or the Pulumi CLI.
STACK ?= dev
PYTHON ?= python3
VENV ?= venv
PY := $(VENV)/bin/python
PLAN_OUT ?= plan-$(STACK).json
CHARTS_ARG = $(if $(CHARTS),--charts $(CHARTS))

.PHONY: help venv plan test diff bench inventory audit render

help:
	@echo "make plan [STACK=dev|prod] [PLAN_OUT=path.json]   offline preview of a stack (mocks), writes the plan JSON"
	@echo "make diff BASE=old.json HEAD=new.json [FORMAT=text|markdown]   resource-level diff of two plans"
	@echo "make bench                                        offline preview time and memory: dev, prod, 50/200/500 workers"
	@echo "make inventory [STACK=...] [INVENTORY_DIR=dir] [STACK_OUTPUTS=outputs.json]   Kubespray hosts.yaml + group_vars/ of a stack"
	@echo "make audit [STACK=dev|prod] [AUDIT_DIR=dir]       policy pack offline: table + JSON/SARIF/Markdown reports; fails on mandatory violations"
	@echo "make render [STACK=...] [CHARTS=dir]              render every Helm release (real Helm engine) into render-<stack>/"
	@echo "make test                                         the whole test suite"
	@echo "  CHARTS=dir (plan, audit, render): chart archives/folders instead of the chart cache (COPRS_CHART_CACHE)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

plan: venv
	$(PY) -m offline.plan --stack $(STACK) --out $(PLAN_OUT) $(CHARTS_ARG)

test: venv
	$(PY) -m pytest -q

FORMAT ?= text
diff: venv
	@test -n "$(BASE)" -a -n "$(HEAD)" || { echo "usage: make diff BASE=old.json HEAD=new.json [FORMAT=text|markdown]" >&2; exit 2; }
	$(PY) -m offline.diff $(BASE) $(HEAD) --format $(FORMAT)

bench: venv
	$(PY) -m bench.run $(CHARTS_ARG)

INVENTORY_DIR ?= inventory-$(STACK)
inventory: venv
	$(PY) -m offline.inventory --stack $(STACK) --out $(INVENTORY_DIR) $(if $(STACK_OUTPUTS),--stack-outputs $(STACK_OUTPUTS))

AUDIT_DIR ?= audit-$(STACK)
audit: venv
	$(PY) -m offline.audit --stack $(STACK) --out $(AUDIT_DIR) $(CHARTS_ARG)

RENDER_DIR ?= render-$(STACK)
render: venv
	$(PY) -m offline.render --stack $(STACK) --out $(RENDER_DIR) $(CHARTS_ARG)
