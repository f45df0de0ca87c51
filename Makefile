# One task runner, used the same way by people and by .ci/run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the project's dependencies change: a second `make run` is quick.
INSTALLED := $(VENV)/.installed
# The dashboard's JavaScript comes from npm (ui/package.json and its lock file); only the
# minified files it serves are copied into the package, git-ignored. Redone when the lock changes.
VENDOR := src/cairn/server/ui/static/vendor
ASSETS := $(VENDOR)/.installed
NPM_MODULES := ui/node_modules

.PHONY: install run demo test lint format bench bench-serving bench-batch bench-mlflow bench-monitor bench-drift bench-ingest bench-autolog screenshots screenshots-integrations clean

install: $(INSTALLED) $(ASSETS)

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,demo]'
	@touch $@

$(ASSETS): ui/package.json ui/package-lock.json
	npm ci --prefix ui --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(NPM_MODULES)/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp $(NPM_MODULES)/htmx.org/LICENSE $(VENDOR)/htmx.LICENSE
	cp $(NPM_MODULES)/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	@# echarts.min.js bundles zrender (BSD-3-Clause) and tslib (0BSD): their notices travel with it.
	{ cat $(NPM_MODULES)/echarts/LICENSE; \
	  printf '\n\n==== echarts NOTICE ====\n\n'; cat $(NPM_MODULES)/echarts/NOTICE; \
	  printf '\n\n==== echarts licenses/LICENSE-d3 ====\n\n'; cat $(NPM_MODULES)/echarts/licenses/LICENSE-d3; \
	  printf '\n\n==== zrender (bundled) LICENSE ====\n\n'; cat $(NPM_MODULES)/zrender/LICENSE; \
	  printf '\n\n==== tslib (bundled) LICENSE.txt ====\n\n'; cat $(NPM_MODULES)/tslib/LICENSE.txt; \
	} > $(VENDOR)/echarts.LICENSE
	@# Swagger UI 5 for /api/v1/docs: it reads FastAPI's OpenAPI 3.1 (4.x cannot).
	mkdir -p $(VENDOR)/swagger
	cp $(NPM_MODULES)/swagger-ui-dist/swagger-ui-bundle.js $(NPM_MODULES)/swagger-ui-dist/swagger-ui.css \
	   $(NPM_MODULES)/swagger-ui-dist/favicon-32x32.png $(VENDOR)/swagger/
	cat $(NPM_MODULES)/swagger-ui-dist/LICENSE $(NPM_MODULES)/swagger-ui-dist/NOTICE > $(VENDOR)/swagger/LICENSE
	@touch $@

demo: install
	$(BIN)/cairn db upgrade
	$(BIN)/python examples/sklearn_demo.py --skip-if-logged

run: demo
	$(BIN)/cairn ui

# The suite's outside needs (PostgreSQL up, Debian's Chromium) are set up here too, so that
# `make test` on a fresh clone is all it takes; .ci/run calls only this.
test: install
	bash scripts/test-prerequisites
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: install
	bash bench/setup_mlflow.sh
	$(BIN)/python bench/run.py

# `cairn serve` beside `mlflow models serve` under hey (bench/README.md, "Serving"); installs hey.
bench-serving: install
	bash bench/setup_serving.sh
	$(BIN)/python bench/serving.py

# `cairn predict` beside a pandas loop over MLflow's pyfunc, 10 million rows (bench/README.md).
bench-batch: install
	bash bench/setup_mlflow.sh
	$(BIN)/python bench/batch_scoring.py

# One MLflow-client workload against `mlflow server` and `cairn server`, and the same through
# Cairn's SDK (bench/README.md, "The MLflow API"); MLflow is the test extra's, in the project venv.
bench-mlflow: install
	$(BIN)/python bench/mlflow_api.py

# One monitor evaluation of a day of 1,000,000 logged predictions × 20 features (bench/README.md).
bench-monitor: install
	$(BIN)/python bench/monitor_eval.py

# One drift evaluation, 1,000,000 rows x 20 features against 100,000, beside Evidently's
# DataDriftPreset in its own venv (bench/README.md, "Drift"); installs Evidently there.
bench-drift: install
	bash bench/setup_evidently.sh
	$(BIN)/python bench/drift.py

# Prediction logs into `cairn server`: cairn.monitor and `cairn monitor upload`, rows/s
# (bench/README.md, "Prediction log ingest").
bench-ingest: install
	$(BIN)/python bench/monitor_ingest.py

# Autologging's cost per framework, beside MLflow's autologging, each against its own server
# (bench/README.md, "Autologging"): one script per framework, run one after the other.
bench-autolog: install
	for workload in bench/autolog_*.py; do $(BIN)/python $$workload || exit 1; done

# PNGs of the dashboard's main pages for the README, from the demo project, in Chromium.
screenshots: install
	$(BIN)/python docs/make_screenshots.py

# The run each framework's example logs, as its docs/integrations/ page shows it.
screenshots-integrations: install
	$(BIN)/python docs/make_integration_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info $(NPM_MODULES) $(VENDOR)
