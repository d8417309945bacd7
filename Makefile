# Everything installs into .venv inside the checkout, so a fresh machine needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov lives in its own environment: it pins libraries (boto3, pydantic, ...) the project must not be held to.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# `langgraph dev` too: langgraph-api pins jsonschema-rs below what schemathesis (dev) needs.
STUDIO_VENV := .venv-studio
STUDIO_STAMP := $(STUDIO_VENV)/.installed

.PHONY: install demo test test-fast lint bench clean synth lock checkov studio openapi reliability mutation

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecs-agent demo

$(CHECKOV_STAMP): requirements/checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --require-hashes --no-deps -r requirements/checkov.lock
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)

$(STUDIO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(STUDIO_VENV)
	$(STUDIO_VENV)/bin/pip install -q --upgrade pip
	$(STUDIO_VENV)/bin/pip install -q -e '.[studio]'
	touch $(STUDIO_STAMP)

# LangGraph Studio on this checkout's graph (langgraph.json): `make studio`, then open the URL it prints.
studio: $(STUDIO_STAMP)
	$(STUDIO_VENV)/bin/langgraph dev

# tests/infra/test_checkov.py runs checkov on the synthesized template, tests/integration/test_studio.py drives
# `langgraph dev` (REQUIRE_CHECKOV, REQUIRE_STUDIO: fail, not skip, without them).
test: $(STAMP) $(CHECKOV_STAMP) $(STUDIO_STAMP)
	$(BIN)/ruff check .
	REQUIRE_CHECKOV=1 REQUIRE_STUDIO=1 $(BIN)/pytest

# The inner loop, under a minute: lint and every test not marked slow (no server, synth, bundle or subprocess;
# tests/conftest.py says how tests get the marker), on two workers (each PostgreSQL test has its own schema, each
# server its own port). `make test` still runs everything.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow" -n 2

# Mutation testing, not part of `make test` (minutes per module): mutmut into .venv, then per module the fast tests
# that exercise it; writes the "Mutation testing" section of BENCHMARKS.md. Needs PostgreSQL (the approval store).
# One module: `$(BIN)/python bench/mutation_score.py --only intake`.
mutation: $(STAMP)
	$(BIN)/pip install -q -e '.[mutation]'
	$(BIN)/python bench/mutation_score.py

# The CDK CLI comes from npm into ./node_modules; synth needs no AWS credentials.
node_modules/.bin/cdk:
	npm install --no-audit --no-fund --no-save aws-cdk@2

# The Lambda assets are built from requirements/lambda-*.lock (exact versions, hashes); synth refuses a lock
# that pyproject.toml has moved away from.
synth: $(STAMP) node_modules/.bin/cdk
	npx --no-install cdk synth --quiet --no-notices

# Re-resolve the Lambda lock files for Lambda's platform (uv, from PyPI). UPGRADE=1 takes the newest versions
# pyproject.toml allows; without it, pins stay unless pyproject.toml changed.
lock: $(STAMP)
	$(BIN)/python -m infra.lock $(if $(UPGRADE),--upgrade)

bench: $(STAMP)
	$(BIN)/python bench/triage_speed.py

# Every test marked @pytest.mark.attack, counted per attack or fault: the "Reliability" table of BENCHMARKS.md.
reliability: $(STAMP)
	$(BIN)/python bench/reliability.py

# The chat API's OpenAPI document, generated from its resolver (tests/unit/test_chat_openapi.py checks it is current).
openapi: $(STAMP)
	$(BIN)/python -m functions.chat_api --openapi > functions/openapi.json.tmp
	mv functions/openapi.json.tmp functions/openapi.json

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(STUDIO_VENV) .pytest_cache build *.egg-info
