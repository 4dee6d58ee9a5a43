"""The Airflow DAGs: they parse fast without errors, and ``dag.test()`` leaves the store as ``voc run`` does.

Airflow runs in-process against a SQLite metadata database in a temporary AIRFLOW_HOME, migrated once
per session. Skipped when apache-airflow is not installed (``pip install 'voc[airflow]'``).
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import write_calls_csv, write_jsonl, write_tone_wav, write_transcript

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
WHISPER_BASE = REPO / "voc-data" / "models" / "whisper-base"
DAY = dt.date(2026, 11, 20)
TZ = "Asia/Shanghai"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("airflow") is None, reason="apache-airflow is not installed (pip install 'voc[airflow]')"
)

# Tables whose contents are a pure function of the inbox and the settings (run bookkeeping is not).
COMPARED_TABLES = ("interactions", "utterances", "transcripts", "call_metrics", "item_status", "sentiment",
                   "call_sentiment", "qa_results", "topic_assignments")


@pytest.fixture(scope="session")
def airflow(tmp_path_factory):
    """A migrated Airflow home with the voc_asr pool, and the DAG folder parsed once."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # short retry delay so that a retry happens inside the test (production default: 120 s, doubling)
        "AIRFLOW__VOC__RETRY_DELAY_SECONDS": "1",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        # Airflow reads AIRFLOW_HOME when first imported, so it is imported only now.
        from airflow import settings
        from airflow.dag_processing.dagbag import DagBag
        from airflow.models.pool import Pool
        from airflow.utils import db

        if settings.SQL_ALCHEMY_CONN != env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
            pytest.skip("airflow was imported before this module set AIRFLOW_HOME; run tests/e2e/test_dags.py alone")

        t0 = time.perf_counter()
        db.initdb()  # what `airflow db migrate` does on an empty database
        migrate_s = time.perf_counter() - t0
        Pool.create_or_update_pool("voc_asr", 1, "voc ASR model slots", include_deferred=False)
        t0 = time.perf_counter()
        DagBag(dag_folder=str(DAGS))  # first parse also imports Airflow's decorator modules
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bag = DagBag(dag_folder=str(DAGS))
        warm_s = time.perf_counter() - t0
        yield SimpleNamespace(bag=bag, home=home, migrate_s=migrate_s, cold_parse_s=cold_s, parse_s=warm_s)


def fresh_dag(name: str):
    """A newly parsed DAG: in-process runs write run conf into the DAG's shared Param objects
    (Airflow's process_params), which only a worker's fresh parse would otherwise reset."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS / f"{name}.py")).dags[name]


def load_dag_module(name: str):
    spec = importlib.util.spec_from_file_location(f"voc_dag_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inbox(root: Path, calls: int = 5) -> Path:
    inbox = root / "inbox"
    row = {"queue": "retail_after_sales", "customer_tier": "normal", "agent_channel": ""}
    lines = ["洗衣机不脱水了", "冰箱不制冷，里面的东西都坏了", "快递一直没到，订单显示已签收", "空调漏水"]
    rows = []
    for i in range(calls):
        write_transcript(inbox / "transcripts" / f"C{i}.json", f"C{i}", [
            ("agent", 0.0, 2.0, "您好，很高兴为您服务，请问有什么可以帮您"),
            ("customer", 2.3, 7.0, f"{lines[i % len(lines)]}，我的电话是1381234567{i}"),
            ("agent", 7.5, 10.0, "非常抱歉给您带来不便，我马上帮您安排师傅上门"),
            ("customer", 10.2, 12.0, "好的，谢谢"),
        ])
        rows.append({**row, "call_id": f"C{i}", "customer_id": f"U{i}", "file": f"transcripts/C{i}.json",
                     "start_time": f"2026-11-20T1{i % 10}:00:00+08:00"})
    write_calls_csv(inbox / "calls.csv", rows)
    write_jsonl(inbox / "text" / "chat.jsonl", [
        {"id": f"T{i}", "created_at": "2026-11-20T09:00:00+08:00", "text": f"{lines[i % len(lines)]}，第{i}次联系了"}
        for i in range(10)
    ])
    return inbox


def voc_env(root: Path, inbox: Path, name: str, **extra: str) -> dict[str, str]:
    return {"VOC_DATABASE_URL": f"sqlite:///{root / f'{name}.db'}", "VOC_INBOX": str(inbox),
            "VOC_EXPORTS_DIR": str(root / f"exports-{name}"), "VOC_MODELS_DIR": str(WHISPER_BASE.parent), **extra}


def table_contents(db_path: Path) -> dict[str, list[tuple]]:
    """Rows of the compared tables, without timestamps and autoincrement ids, in a stable order."""
    out = {}
    with sqlite3.connect(db_path) as conn:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in COMPARED_TABLES:
            if table not in present:
                continue
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                    if not r[1].endswith("_at") and not (r[1] == "id" and r[2].upper() == "INTEGER")]
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def logical(day: dt.date):
    import pendulum

    return pendulum.datetime(day.year, day.month, day.day, tz=TZ)


def task_states(dag_run) -> dict[tuple[str, int], tuple[str, int]]:
    return {(ti.task_id, ti.map_index): (str(ti.state), ti.try_number) for ti in dag_run.get_task_instances()}


# ---- parsing ------------------------------------------------------------------------------------
def test_dag_files_import_without_errors_and_parse_fast(airflow):
    print(f"\nairflow db migrate (in-process initdb): {airflow.migrate_s:.2f} s; DagBag parse of dags/: "
          f"{airflow.parse_s:.3f} s warm, {airflow.cold_parse_s:.3f} s cold")
    assert airflow.bag.import_errors == {}
    assert {"voc_nightly", "voc_reprocess"} <= set(airflow.bag.dags)
    assert airflow.parse_s < 1.0, f"parsing dags/ took {airflow.parse_s:.2f} s (goal < 1 s): heavy work at parse time?"


@pytest.mark.parametrize("name", ["voc_nightly", "voc_reprocess"])
def test_dag_files_import_only_light_modules_at_top_level(name):
    tree = ast.parse((DAGS / f"{name}.py").read_text(encoding="utf-8"))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    assert top <= {"__future__", "datetime", "logging", "typing", "pendulum", "airflow"}, top


def test_dag_files_pass_ruff_airflow3_rules():
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'voc[dev]')")
    done = subprocess.run([ruff, "check", "--select", "AIR3", "--no-cache", str(DAGS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_nightly_shape_follows_the_pipeline(airflow):
    from voc import pipeline

    dag = airflow.bag.dags["voc_nightly"]
    assert set(pipeline.DEFAULT_ORDER) <= set(dag.task_ids)
    assert dag.catchup and dag.max_active_runs == 1
    tr = dag.get_task("transcribe")
    assert tr.pool == "voc_asr" and tr.retries >= 1 and tr.retry_exponential_backoff > 1
    # the chain runs in the embedded runner's order
    order = list(pipeline.DEFAULT_ORDER)
    for before, after in zip(order[1:], order[2:], strict=False):
        assert after in dag.get_task(before).downstream_task_ids
    assert "plan_batches" in dag.get_task("ingest").downstream_task_ids
    # a day without calls maps zero batches (transcribe is skipped); text and the rest must still run
    assert dag.get_task("text").trigger_rule == "none_failed"
    # embed is mapped over item batches like transcribe (workers share it); sentiment runs after every batch
    assert {"plan_embed_batches", "embed"} <= dag.get_task("text").downstream_task_ids
    assert "embed" in dag.get_task("plan_embed_batches").downstream_task_ids
    assert dag.get_task("sentiment").trigger_rule == "none_failed"
    reprocess = airflow.bag.dags["voc_reprocess"]
    assert reprocess.params.get_param("stages").schema["items"]["enum"] == order


def test_business_date_rules():
    nightly = load_dag_module("voc_nightly")
    run = SimpleNamespace(run_after=dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC))
    # scheduled: the logical date (= data interval start) in the business timezone
    ctx = {"logical_date": dt.datetime(2026, 11, 19, 18, 0, tzinfo=dt.UTC), "dag_run": run}
    assert nightly.business_date(ctx, TZ) == dt.date(2026, 11, 20)
    assert nightly.business_date(ctx, "UTC") == dt.date(2026, 11, 19)
    # manual without a logical date: the day before the run was requested
    assert nightly.business_date({"logical_date": None, "dag_run": run}, TZ) == dt.date(2026, 11, 20)
    # an explicit date param wins
    assert nightly.business_date(ctx, TZ, "2026-11-01") == dt.date(2026, 11, 1)


# ---- the nightly DAG end to end -------------------------------------------------------------------
@pytest.mark.slow  # ~20-30 s on 2 cores: every stage twice (embedded, then dag.test()); make test-all
def test_nightly_dag_test_matches_the_embedded_runner(airflow, tmp_path, monkeypatch):
    from voc import pipeline
    from voc.config import load_settings
    from voc.store import Store

    monkeypatch.chdir(tmp_path)
    inbox = write_inbox(tmp_path)
    embedded_env = voc_env(tmp_path, inbox, "embedded")
    store = Store.open(load_settings(environ=embedded_env).db_url)
    try:
        summary = pipeline.run(store, load_settings(environ=embedded_env), DAY)
    finally:
        store.close()
    assert summary.status == "done"

    for key, value in voc_env(tmp_path, inbox, "airflow", VOC_ASR__BATCH_CALLS="2").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW__VOC__EMBED_BATCH_ITEMS", "6")  # read when the DAG file is parsed
    dag_run = fresh_dag("voc_nightly").test(logical_date=logical(DAY))
    states = task_states(dag_run)
    assert str(dag_run.state) == "success", states
    assert sorted(i for t, i in states if t == "transcribe") == [0, 1, 2]  # 5 calls in batches of 2
    assert sorted(i for t, i in states if t == "embed") == [0, 1, 2]  # 15 items in batches of 6

    embedded, orchestrated = table_contents(tmp_path / "embedded.db"), table_contents(tmp_path / "airflow.db")
    assert len(embedded["interactions"]) == 15 and len(embedded["utterances"]) == 20
    for table in embedded:
        assert orchestrated[table] == embedded[table], table
    with sqlite3.connect(tmp_path / "airflow.db") as conn:
        runs = conn.execute("SELECT run_date, status, \"trigger\" FROM runs").fetchall()
        stages = [r[0] for r in conn.execute("SELECT stage FROM stage_runs WHERE status = 'done'")]
    assert runs == [(DAY.isoformat(), "done", "airflow")]
    assert sorted(s for s in stages if s.startswith("transcribe")) == ["transcribe[1]", "transcribe[2]", "transcribe[2]"]
    assert sorted(s for s in stages if s.startswith("embed")) == ["embed[3]", "embed[6]", "embed[6]"]
    # the batches cached the same vectors (by embedder and text) as the embedded run's one pass
    keys = {}
    for name in ("embedded", "airflow"):
        with sqlite3.connect(tmp_path / f"{name}.db") as conn:
            keys[name] = {r[0] for r in conn.execute("SELECT key FROM embeddings")}
    assert keys["airflow"] == keys["embedded"] and keys["embedded"]


@pytest.mark.slow  # ~12-30 s: three dag.test() runs; make test-all (reprocess dag.test() stays in make test)
def test_failed_batch_is_retried_while_the_other_batches_stay_done(airflow, tmp_path, monkeypatch):
    """One mapped batch fails (its ASR model is not in place yet); the others finish; the retry completes it."""
    if not (WHISPER_BASE / "model.bin").is_file():
        pytest.skip(f"Whisper base is not assembled at {WHISPER_BASE} (run: make model)")
    monkeypatch.chdir(tmp_path)
    inbox = write_inbox(tmp_path, calls=3)
    write_tone_wav(inbox / "recordings" / "A1.wav", seconds=1.0)
    rows = [{"call_id": f"C{i}", "file": f"transcripts/C{i}.json", "queue": "retail_after_sales",
             "start_time": "2026-11-20T10:00:00+08:00"} for i in range(3)]
    rows.append({"call_id": "A1", "file": "recordings/A1.wav", "queue": "retail_after_sales",
                 "start_time": "2026-11-20T11:00:00+08:00", "agent_channel": "0"})
    write_calls_csv(inbox / "calls.csv", rows)
    model_dir = tmp_path / "asr-model"  # the worker's model volume, still empty
    model_dir.mkdir()
    voc_db = tmp_path / "airflow.db"
    for key, value in voc_env(tmp_path, inbox, "airflow", VOC_ASR__BATCH_CALLS="1",
                              VOC_ASR__MODEL=str(model_dir)).items():
        monkeypatch.setenv(key, value)

    def mount_model_after_first_failure() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:  # read-only, so that the probe never creates the store file itself
                with sqlite3.connect(f"file:{voc_db}?mode=ro", uri=True, timeout=30) as conn:
                    failed = conn.execute("SELECT count(*) FROM stage_runs WHERE stage LIKE 'transcribe%' "
                                          "AND error IS NOT NULL").fetchone()[0]
            except sqlite3.OperationalError:  # the store is not created/migrated yet
                failed = 0
            if failed:
                for part in WHISPER_BASE.iterdir():
                    os.symlink(part, model_dir / part.name)
                return
            time.sleep(0.1)

    fixer = threading.Thread(target=mount_model_after_first_failure, daemon=True)
    fixer.start()
    later = "sentiment|qa|topics|routing|report|finish"  # not under test here; marked done to save time
    dag_run = fresh_dag("voc_nightly").test(logical_date=logical(DAY), mark_success_pattern=later)
    fixer.join(timeout=5)
    states = task_states(dag_run)
    assert str(dag_run.state) == "success", states
    batches = {i: s for (t, i), s in states.items() if t == "transcribe"}
    assert len(batches) == 4 and all(state == "success" for state, _ in batches.values()), batches
    assert sorted(tries for _, tries in batches.values()) == [1, 1, 1, 2]  # only the failed batch ran twice
    with sqlite3.connect(voc_db) as conn:
        errors = conn.execute("SELECT error FROM stage_runs WHERE error IS NOT NULL").fetchall()
        done = conn.execute("SELECT count(*) FROM item_status WHERE stage = 'transcribe' AND status = 'done'").fetchone()
        models = {r[0] for r in conn.execute("SELECT model FROM transcripts")}
    assert len(errors) == 1 and "no model.bin" in errors[0][0]
    assert done == (4,)
    assert str(model_dir) in models  # the retried batch used the ASR model once it was there


# ---- the reprocess DAG ----------------------------------------------------------------------------
def test_reprocess_dag_reruns_chosen_calls(airflow, tmp_path, monkeypatch):
    from voc import pipeline
    from voc.config import load_settings
    from voc.store import Store

    monkeypatch.chdir(tmp_path)
    inbox = write_inbox(tmp_path, calls=3)
    env = voc_env(tmp_path, inbox, "voc")
    store = Store.open(load_settings(environ=env).db_url)
    try:
        pipeline.run(store, load_settings(environ=env), DAY, ["ingest", "transcribe", "text"])
    finally:
        store.close()
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    dag_run = fresh_dag("voc_reprocess").test(logical_date=None, run_conf={"call_ids": ["C1"],
                                                                          "stages": ["embed", "text", "transcribe"]})
    assert str(dag_run.state) == "success", task_states(dag_run)
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "reprocess")
    out = ti.xcom_pull(task_ids="reprocess")
    assert out["items"] == 1 and out["dates"] == [DAY.isoformat()]
    assert [(s["stage"], s["processed"]) for s in out["stages"]] == [("transcribe", 1), ("text", 1), ("embed", 1)]

    dag_run = fresh_dag("voc_reprocess").test(logical_date=None, run_conf={"date_from": DAY.isoformat(), "stages": ["text"]})
    assert str(dag_run.state) == "success", task_states(dag_run)
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "reprocess")
    out = ti.xcom_pull(task_ids="reprocess")
    assert out["items"] == 13 and out["stages"][0]["processed"] == 13  # 3 calls + 10 chats of the day


def test_reprocess_params_are_checked(airflow):
    from airflow.sdk.exceptions import ParamValidationError

    reprocess = load_dag_module("voc_reprocess")
    params = airflow.bag.dags["voc_reprocess"].params
    for key, bad in [("stages", ["transcribbe"]), ("stages", []), ("date_from", "20-11-2026"),
                     ("call_ids", [""]), ("asr_model", "")]:
        with pytest.raises(ParamValidationError):
            copy.deepcopy(params)[key] = bad
    ok = copy.deepcopy(params)
    ok["date_from"] = "2026-11-01"
    request = reprocess.check_request(ok.validate())
    assert request["date_to"] == "2026-11-01" and request["stages"] == ["transcribe", "text"]
    for conf, message in [({}, "nothing to reprocess"), ({"call_ids": ["C1"], "date_from": "2026-11-01"}, "either"),
                          ({"date_from": "2026-11-02", "date_to": "2026-11-01"}, "before"),
                          ({"call_ids": ["C1"], "stages": ["ingest"]}, "ingest alone")]:
        with pytest.raises(ValueError, match=message):
            reprocess.check_request({"stages": ["text"], **conf})
