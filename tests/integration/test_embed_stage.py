"""The embed stage (issue 22): each text's vector is computed once, before the jobs that use it, in batches, into the
store's cache; afterwards QA (step model), topics, routing and repeat linking embed nothing new.

A counting stand-in replaces the e5 backend (same name, deterministic vectors), so the test measures embedder calls
and runs in seconds; which text each job embeds is the code under test, not the vectors."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest

from tests.helpers import write_calls_csv, write_jsonl, write_transcript
from voc import pipeline
from voc.config import load_settings
from voc.store import Store

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
E5_NAME = "e5-small-q4:original:query"
LONG = "冰箱不制冷，里面的东西都坏了，" * 50  # 750 characters: embedded by its first 512 (limits.embed_max_chars)


class CountingEmbedder:
    name = E5_NAME
    dim = 384
    fitted = True

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts += list(texts)
        rows = [np.frombuffer(hashlib.sha256(t[:512].encode()).digest() * 48, dtype=np.uint8)[:384].astype(np.float32)
                - 127.5 for t in texts]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), 384)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture()
def counting(monkeypatch):
    from voc.semantic import embedders

    fake = CountingEmbedder()
    monkeypatch.setitem(embedders.BACKENDS, "e5", lambda _st, _seed: fake)
    embedders.load_embedder.cache_clear()
    yield fake
    embedders.load_embedder.cache_clear()


@pytest.fixture()
def env(tmp_path):
    inbox = tmp_path / "inbox"
    lines = ["洗衣机不脱水了，师傅一直不来", "冰箱不制冷，里面的东西都坏了", "快递一直没到，订单显示已签收", "空调漏水，墙都湿了"]
    rows = []
    for i in range(4):
        utts = [("agent", 0.0, 2.0, "您好，很高兴为您服务。请问有什么可以帮您？"),
                ("customer", 2.3, 7.0, lines[i]),
                ("agent", 7.5, 10.0, "非常抱歉给您带来不便，我马上帮您安排师傅上门。")]
        if i == 3:  # a call where only the agent spoke: routing embeds the whole call, topics nothing
            utts = [u for u in utts if u[0] == "agent"]
        write_transcript(inbox / "transcripts" / f"C{i}.json", f"C{i}", utts)
        rows.append({"call_id": f"C{i}", "file": f"transcripts/C{i}.json", "queue": "retail_after_sales",
                     "customer_id": f"U{i % 2}", "start_time": f"2026-11-20T1{i}:00:00+08:00"})
    write_calls_csv(inbox / "calls.csv", rows)
    write_jsonl(inbox / "text" / "chat.jsonl", [
        {"id": f"T{i}", "created_at": "2026-11-20T09:00:00+08:00", "customer_id": f"U{i % 3}",
         "text": LONG if i == 0 else f"{lines[i % 4]}，第{i}次联系了"} for i in range(8)])
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(inbox),
                                      "VOC_EXPORTS_DIR": str(tmp_path / "exports"), "VOC_ID_SECRET": "embed-test"})
    store = Store.open(settings.db_url)
    yield settings, store
    store.close()


def _stage(summary, name):
    return next(s for s in summary.stages if s["stage"] == name)


def test_after_embed_the_later_jobs_embed_nothing(env, counting):
    settings, store = env
    first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed"], now=NOW)
    assert first.status == "done", first.stages
    embed = _stage(first, "embed")
    assert (embed["processed"], embed["failed"]) == (12, 0)
    assert set(embed["details"]["jobs"]) == {"topics", "routing", "qa", "sentiment"}  # the default sentiment scorer reads e5 (issue 21)
    assert embed["details"]["embedded"] == len(counting.texts) == len(set(counting.texts)) > 0  # each text once
    assert LONG[:512] in counting.texts and LONG not in counting.texts  # one key for topics and routing
    asked = len(counting.texts)

    counting.texts.clear()
    rest = pipeline.run(store, settings, DAY, ["sentiment", "qa", "topics", "routing", "report"], now=NOW)
    assert rest.status == "done", rest.stages
    assert counting.texts == []  # 100 % cache hits: nothing embedded after the embed stage
    assert _stage(rest, "topics")["details"]["embedded_new"] == 0
    assert len(pipeline.complaint_docs(store, settings, DAY)) >= 8 and _stage(rest, "qa")["processed"] == 4

    # resume: a second run of the stage finds every item done; reprocess recomputes the keys, all cached
    again = pipeline.run(store, settings, DAY, ["embed"], now=NOW)
    assert _stage(again, "embed").get("status", "").startswith("skipped") or _stage(again, "embed")["processed"] == 0
    out = pipeline.reprocess(store, settings, ["embed"], call_ids=["C0", "T0"], now=NOW)
    assert out["stages"][0]["processed"] == 2 and out["stages"][0]["details"]["embedded"] == 0
    assert counting.texts == [] and asked == store.db.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM embeddings").scalar()


def test_the_keys_are_what_each_job_looks_up(env, counting):
    """job_texts is the single statement of the keys: topics' complaint texts and routing's contact texts (both cut),
    the agents' sentences of the step model."""
    from voc.pipeline.embed import agent_sentences, job_texts
    from voc.pipeline.routing import contact_texts

    settings, store = env
    pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"], now=NOW)
    items = store.interactions(run_date=DAY)
    utts = store.utterances_for([i.id for i in items])
    contact = contact_texts(store, items)
    for item in items:
        assert job_texts("routing", item, utts[item.id], settings) == [contact[item.id][:512]]
    docs = pipeline.complaint_docs(store, settings, DAY)
    assert docs
    for item, text in docs:
        assert job_texts("topics", item, utts[item.id], settings) == [text[:512]]
    call = next(i for i in items if i.external_id == "C0")
    assert job_texts("qa", call, utts[call.id], settings) == agent_sentences(utts[call.id]) == [
        "您好，很高兴为您服务。", "请问有什么可以帮您？", "非常抱歉给您带来不便，我马上帮您安排师傅上门。"]
    assert job_texts("qa", docs[0][0], [], settings) == [] or docs[0][0].channel.value == "call"
    # routing shares topics' cut key only where the cut changes no vector (e5 reads 512 characters); another
    # routing embedder keeps the whole text
    other = settings.model_copy(update={"routing": settings.routing.model_copy(update={"embedder": "sentence-transformers"})})
    long_item = next(i for i in items if i.external_id == "T0")
    assert job_texts("routing", long_item, [], other) == [LONG.strip()]
    assert job_texts("topics", long_item, [], other) == [LONG.strip()[:512]]
    with pytest.raises(ValueError, match="unknown embedding job"):
        job_texts("sentimentx", call, [], settings)


def test_a_failing_item_is_recorded_and_the_rest_are_embedded(env, counting, monkeypatch):
    import voc.pipeline.embed as embed_mod

    settings, store = env
    pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"], now=NOW)
    real = embed_mod.job_texts

    def flaky(job, item, utterances, s):
        if item.external_id == "T3":
            raise RuntimeError("unreadable")
        return real(job, item, utterances, s)

    monkeypatch.setattr(embed_mod, "job_texts", flaky)
    seen = []
    result = pipeline.run_stage(store, settings, "embed", DAY, progress=lambda *a: seen.append(a), now=NOW)
    assert (result.processed, result.failed) == (11, 1) and "unreadable" in result.errors[0]["reason"]
    assert seen[-1] == ("embed", 12, 12)
    assert [i.external_id for i in store.interactions(run_date=DAY, pending_stage="embed")] == ["T3"]
    monkeypatch.setattr(embed_mod, "job_texts", real)
    batches = embed_mod.plan_batches(store, DAY, size=1)
    assert len(batches) == 1
    again = pipeline.run_stage(store, settings, "embed", DAY, batches[0], now=NOW)
    assert (again.processed, again.failed) == (1, 0)
    assert store.interactions(run_date=DAY, pending_stage="embed") == []


def test_an_e5_sentiment_scorer_finds_its_vectors_too(env, counting):
    settings, store = env
    settings = settings.model_copy(update={"sentiment": settings.sentiment.model_copy(update={"backend": "e5-stack"})})
    first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed"], now=NOW)
    assert _stage(first, "embed")["details"]["texts_per_job"]["sentiment"] > 0
    counting.texts.clear()
    rest = pipeline.run(store, settings, DAY, ["sentiment"], now=NOW)
    assert rest.status == "done" and counting.texts == []
    assert _stage(rest, "sentiment")["details"]["e5_embedded"] == 0


def test_the_sentiment_cascade_embeds_only_the_texts_the_n_gram_model_is_unsure_of(env, counting):
    """The sentiment cascade (sentiment.e5_band 0.15) reads e5 only where the n-gram model is unsure; the embed stage
    computes exactly those vectors (the same decision, voc.sentiment.e5.e5_inputs_needed) and the sentiment stage
    then embeds nothing."""
    from voc.pipeline.embed import job_texts
    from voc.sentiment import get_scorer
    from voc.sentiment.e5 import e5_inputs_needed

    settings, store = env
    confident, unsure = "质量很好，非常满意，下次还会再来", "东西收到了，和描述的差不多"
    write_jsonl(settings.inbox / "text" / "reviews.jsonl", [
        {"id": f"R{i}", "created_at": "2026-11-20T09:00:00+08:00", "customer_id": f"U{i}", "text": t}
        for i, t in enumerate([confident, unsure])])
    # only the sentiment job reads e5 vectors here: topics fit their space per night, routing uses none
    settings = settings.model_copy(update={
        "topics": settings.topics.model_copy(update={"embedder": "tfidf"}),
        "routing": settings.routing.model_copy(update={"embedder": "none"}),
        "qa": settings.qa.model_copy(update={"step_model": False}),
        "sentiment": settings.sentiment.model_copy(update={"e5_band": 0.15})})  # the cascade (default 0.5: every text)
    first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed"], now=NOW)
    assert first.status == "done", first.stages
    assert set(_stage(first, "embed")["details"]["jobs"]) == {"sentiment"}
    assert unsure in counting.texts and confident not in counting.texts
    items = store.interactions(run_date=DAY)
    utts = store.utterances_for([i.id for i in items])
    by_id = {i.external_id: i for i in items}
    assert job_texts("sentiment", by_id["R0"], [], settings) == []
    assert job_texts("sentiment", by_id["R1"], [], settings) == [unsure]
    from voc.pipeline.embed import sentiment_texts

    wanted = set(e5_inputs_needed(get_scorer(settings.sentiment),
                                  [t for i in items for t in sentiment_texts(i, utts.get(i.id) or [])]))
    assert set(counting.texts) == wanted and len(wanted) < sum(len(sentiment_texts(i, utts.get(i.id) or [])) for i in items)
    counting.texts.clear()
    rest = pipeline.run(store, settings, DAY, ["sentiment"], now=NOW)
    assert rest.status == "done" and counting.texts == []
    details = _stage(rest, "sentiment")["details"]
    assert details["e5_vectors"] == len(wanted) and details["e5_embedded"] == 0


def test_praise_the_n_gram_model_is_sure_of_gets_no_vector(env, counting):
    """With the cascade (the default band), a text contact the n-gram model is sure reads as praise needs no e5
    vector: it is no complaint (no topic) and its service type comes from its words with the average vector. The
    embed stage skips it, routing gives it a service type all the same, and no later stage embeds it."""
    from voc.pipeline.embed import job_texts, known_text_score, reads_as_praise

    settings, store = env
    praise = "质量很好，非常满意，师傅安装很专业，下次还会再来"
    write_jsonl(settings.inbox / "text" / "reviews.jsonl", [
        {"id": "P1", "created_at": "2026-11-20T09:00:00+08:00", "customer_id": "U9", "text": praise}])
    assert settings.sentiment.e5_band < 0.5  # the default is the cascade
    run = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed"], now=NOW)
    assert run.status == "done", run.stages
    item = next(i for i in store.interactions(run_date=DAY) if i.external_id == "P1")
    complaint = next(i for i in store.interactions(run_date=DAY) if i.external_id == "T1")
    assert known_text_score(item, settings) >= settings.sentiment.positive_threshold and reads_as_praise(item, settings)
    assert job_texts("topics", item, [], settings) == [] and job_texts("routing", item, [], settings) == []
    assert praise not in counting.texts
    assert not reads_as_praise(complaint, settings) and job_texts("routing", complaint, [], settings)
    counting.texts.clear()
    rest = pipeline.run(store, settings, DAY, ["sentiment", "qa", "topics", "routing", "report"], now=NOW)
    assert rest.status == "done", rest.stages
    assert counting.texts == []  # routing imputed its vector; the customer view compares no praise
    (summary,) = store.call_sentiments([item.id]).values()
    assert summary.score == pytest.approx(known_text_score(item, settings), abs=1e-4)  # what the gate foresaw
    assert item.id not in {i.id for i, _text in pipeline.complaint_docs(store, settings, DAY)}
    service = store.db.engine.connect().exec_driver_sql(
        "SELECT service_type FROM interactions WHERE id = ?", (item.id,)).scalar()
    assert service  # a service type all the same


def _loads(monkeypatch, make):
    """Replace the e5 backend by ``make()`` (called on each load) and count the loads."""
    from voc.semantic import embedders

    loads: list[int] = []

    def factory(_st, _seed):
        loads.append(1)
        return make()

    monkeypatch.setitem(embedders.BACKENDS, "e5", factory)
    embedders.load_embedder.cache_clear()
    return loads


def test_topics_and_routing_load_no_model_when_every_vector_is_cached(env, counting, monkeypatch):
    """After the embed stage, sentiment, QA, topics and routing (and a rerun of the embed stage) only look vectors
    up: their e5 is a LazyEmbedder named without loading the model (voc.pipeline.lazy_embedder.embedder_name_for;
    QA's step vectors load theirs on first use), so a backend that raises when loaded is never called."""
    settings, store = env
    first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed"], now=NOW)
    assert first.status == "done", first.stages

    def refuse():
        raise AssertionError("e5 loaded although every vector is cached")

    loads = _loads(monkeypatch, refuse)
    rest = pipeline.run(store, settings, DAY, ["sentiment", "qa", "topics", "routing"], now=NOW)
    assert rest.status == "done", rest.stages
    assert _stage(rest, "sentiment")["details"]["e5_embedded"] == 0 and _stage(rest, "qa")["processed"] == 4
    assert loads == [] and _stage(rest, "topics")["details"]["embedded_new"] == 0
    topics = _stage(rest, "topics")
    assert topics["processed"] + topics["skipped"] >= 8 and _stage(rest, "routing")["details"]["service_types"]
    out = pipeline.reprocess(store, settings, ["embed"], call_ids=["C0", "T0"], now=NOW)
    assert out["stages"][0]["processed"] == 2 and out["stages"][0]["details"]["embedded"] == 0 and loads == []


def test_a_missing_vector_loads_the_model_once(env, counting, monkeypatch):
    """A vector missing from the cache (here: deleted after the embed stage) loads e5 once, for topics; routing
    then finds the vector topics wrote under the same key."""
    from voc.pipeline.embed import embed_key
    from voc.pipeline.lazy_embedder import embedder_name_for
    from voc.store.analytics import embedding_key

    settings, store = env
    first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text", "embed", "sentiment", "qa"], now=NOW)
    assert first.status == "done", first.stages
    assert embedder_name_for("e5") == E5_NAME == counting.name
    _item, text = next((i, t) for i, t in pipeline.complaint_docs(store, settings, DAY) if i.external_id == "T1")
    key = embed_key(text, settings)
    with store.db.engine.begin() as conn:
        gone = conn.exec_driver_sql("DELETE FROM embeddings WHERE key = ?", (embedding_key(E5_NAME, key),)).rowcount
    assert gone == 1
    counting.texts.clear()
    loads = _loads(monkeypatch, lambda: counting)
    rest = pipeline.run(store, settings, DAY, ["topics", "routing"], now=NOW)
    assert rest.status == "done", rest.stages
    assert loads == [1] and counting.texts == [key]
    assert _stage(rest, "topics")["details"]["embedded_new"] == 1


def test_a_lazy_embedder_checks_the_name_it_promised():
    from voc.pipeline.lazy_embedder import LazyEmbedder, lazy_embedder

    fake = CountingEmbedder()
    lazy = LazyEmbedder("other-name", 384, lambda: fake)
    assert lazy.embed([]).shape == (0, 384) and not lazy.loaded  # nothing to embed: nothing loaded
    with pytest.raises(ValueError, match="embedder_name_for is out of date"):
        lazy.embed(["x"])
    assert lazy_embedder("e5-static", lambda: fake) is fake  # a name only the loaded backend knows: loaded now
    ok = lazy_embedder("e5", lambda: fake)
    assert (ok.name, ok.dim, ok.loaded) == (E5_NAME, 384, False)
    assert ok.embed(["x"]).shape == (1, 384) and ok.loaded and fake.texts == ["x"]
