# voc: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.voc-installed
MODELS ?= voc-data/models
DEMO   := $(BIN)/voc --config demo/voc.yaml
PYTEST_ARGS ?=
# make test / test-all spread test files over this many processes (pytest-xdist; a file's tests stay in one process,
# so module fixtures such as the demo run are built once). 0 runs everything in this process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

.PHONY: setup setup-airflow model demo test test-unit test-all lint bench bench-asr bench-asr-ablation bench-sentiment bench-topics bench-topics-scale bench-redaction bench-routing bench-qa bench-text bench-web bench-throughput bench-embeddings distill scaleout clean-demo

setup: $(STAMP) $(MODELS)/whisper-base/model.bin  ## venv with torch 2.13.0 (CPU) first, then voc and its extras; assemble Whisper base

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch goes in first and pinned: a local CPU build is served for exactly this version,
# any other spec pulls several GB of CUDA packages.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,postgres,models,st,web,export]'
	touch $(STAMP)

AIRFLOW_STAMP := $(VENV)/.voc-airflow-installed
$(AIRFLOW_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,postgres,models,st,web,export,airflow]'
	touch $(AIRFLOW_STAMP)

setup-airflow: $(AIRFLOW_STAMP)  ## Airflow 3 in the same venv (the DAG tests need it; `make demo` does not)

$(MODELS)/whisper-base/model.bin: | $(STAMP)
	$(BIN)/voc models fetch --models-dir $(MODELS)

model: $(MODELS)/whisper-base/model.bin

# Not part of setup: distilling costs minutes of e5 time (bench/embeddings/README.md); build it before choosing
# topics.embedder / routing.embedder: e5-static.
distill: $(MODELS)/e5-static/e5-static.npz  ## the e5-static embedder's word table, distilled from the bundled e5 model

$(MODELS)/e5-static/e5-static.npz: | $(STAMP)
	$(BIN)/voc models distill --models-dir $(MODELS)

demo: setup  ## ingest the bundled demo inbox and run every stage for its 30 days
	$(DEMO) init
	$(DEMO) ingest demo/inbox
	$(DEMO) run --from 2026-10-22 --date 2026-11-20
	@echo
	@echo "Demo outputs: $$(pwd)/exports/demo  (database: voc-data/demo.db; try: $(DEMO) status)"

clean-demo:
	rm -rf voc-data/demo.db* exports/demo

# Tests come in layers: tests/unit (pure functions), tests/integration (real SQLite/PostgreSQL, real models on
# short clips, local HTTP servers, CLI over a real store), tests/e2e (the demo through every stage, Airflow's
# dag.test(), the browser). `make test` skips the tests marked slow; it should stay under 5 minutes on 2 cores
# (two worker processes, one per core: TEST_WORKERS=2).
test: setup setup-airflow  ## unit + integration + a four-night demo run through every stage (CI runs this; not slow ones)
	$(BIN)/pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-unit: setup  ## the unit layer alone: no database, model or network
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-all: setup setup-airflow  ## everything, slow tests included (the 30-night demo run, ...)
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check voc tests bench dags

bench: bench-redaction bench-sentiment bench-routing bench-topics bench-qa bench-asr  ## long benchmarks (not in CI)

bench-asr: setup
	$(BIN)/python bench/asr/run.py

bench-asr-ablation: setup  ## voc's transcribe path vs faster-whisper directly, one difference at a time (bench/asr/README.md; ~1 CPU-hour at 1 thread)
	OMP_NUM_THREADS=1 $(BIN)/python bench/asr/ablation.py --sets tel8k_sim,magicdata_cs_16k --limit-16k 20 --calls 8
	$(BIN)/python bench/asr/ablation.py --report

bench-sentiment: setup
	$(BIN)/python bench/sentiment/lodo.py

bench-topics: setup
	$(BIN)/python bench/topics/bench_topics.py

bench-topics-scale: setup  ## 30-day emerging simulation, 10k/50k/100k nightly cost, BERTopic comparison (bench/topics/RESULTS_scale.md; ~30 min on 2 loaded cores)
	$(BIN)/pip install -q 'bertopic>=0.17'
	$(BIN)/python bench/topics/scale_data.py
	$(BIN)/python bench/topics/emerging_sim.py
	$(BIN)/python bench/topics/emerging_sim.py --warmup 14 --set pool_days=3 --out bench/topics/results_emerging_sim_warm14_pool3.json
	$(BIN)/python bench/topics/emerging_sim.py --set pool_days=0 --out bench/topics/results_emerging_sim_pool0.json
	$(BIN)/python bench/topics/emerging_sim.py --warmup 14 --set pool_days=0 --out bench/topics/results_emerging_sim_warm14_pool0.json
	$(BIN)/python bench/topics/emerging_sim.py --warmup 14 --daily 1000 --set pool_days=0 --out bench/topics/results_emerging_sim_warm14_d1000_pool0.json
	$(BIN)/python bench/topics/scale.py
	$(BIN)/python bench/topics/scale.py --set pool_days=0 --out bench/topics/results_scale_pool0.json
	$(BIN)/python bench/topics/bertopic_compare.py

bench-redaction: setup
	$(BIN)/python bench/redaction/run.py

bench-routing: setup
	$(BIN)/python bench/routing/eval_routing.py

bench-qa: setup
	$(BIN)/python bench/qa/run.py
	$(BIN)/python bench/qa/gold.py

bench-text: setup  ## normalise + redact + segment throughput on 100k real sentences, one core
	taskset -c 0 $(BIN)/python bench/text/throughput.py --digest || $(BIN)/python bench/text/throughput.py --digest

bench-embeddings: setup  ## e5 vs e5-static (distilled) vs TF-IDF/SVD for topics and sentiment: quality vs ms/text; e5's two engines (bench/embeddings/README.md)
	OMP_NUM_THREADS=2 $(BIN)/python bench/embeddings/word_vectors.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/embeddings/run.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/embeddings/ablation.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/embeddings/speed.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/embeddings/nightly.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/embeddings/engine.py

bench-web: setup  ## 50 concurrent API clients for 60 s against a local uvicorn server (bench/web/README.md)
	$(BIN)/python bench/web/load.py

bench-throughput: setup  ## ingest + voc run night after night over an inbox of real texts built in /tmp: CPU-s per stage, records per CPU-second, peak RSS, library costs (bench/throughput/README.md)
	OMP_NUM_THREADS=1 $(BIN)/python bench/throughput/run.py --records 6000 --nights 3
	OMP_NUM_THREADS=1 $(BIN)/python bench/throughput/run.py --ingest-only --records 100000 --nights 30 --library-n 0 --work /tmp/voc-bench-throughput-ingest

# Not in CI: needs this machine's PostgreSQL (drops and recreates voc_airflow_meta and voc_scaleout) and Redis.
scaleout: setup setup-airflow model  ## nightly DAG on CeleryExecutor, two workers, PostgreSQL + Redis; prints the evidence
	bash bench/scaleout/run.sh
