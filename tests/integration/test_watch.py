"""Near-real-time topics (voc.pipeline.watch, ``voc watch``): assign-only placement agrees with the nightly registry;
arriving chats raise an alert within seconds, once a day, through a real local webhook; the nightly run replaces
the live assignments. Real e5 embeddings, a real SQLite store filled by the nightly stages."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.topics_seed import chat_rows, seed_history, write_jsonl
from tests.unit.test_topics import INVOICE, SMALL, TEXTS, THEMES
from voc.config import TopicSettings, load_settings
from voc.pipeline.watch import ALERT_KIND, WatchState, watch, watch_once
from voc.store import Store
from voc.topics import E5Embedder, TopicDoc, TopicRegistry, update_topics
from voc.topics.assign import assign_to_topics

ALERT_KEYS = {"at", "kind", "topic_id", "label", "count", "baseline", "latency_s", "facets"}


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    texts = TEXTS + INVOICE
    return dict(zip(texts, E5Embedder().embed(texts), strict=True))


def _docs(texts, day, vectors, prefix):
    return [TopicDoc(f"{prefix}{i:03d}", t, day, vectors[t]) for i, t in enumerate(texts)]


def test_live_assignment_agrees_with_the_nightly_run(vectors) -> None:
    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    first = [t for texts in THEMES.values() for t in texts[::2]]
    second = [t for texts in THEMES.values() for t in texts[1::2]] + INVOICE
    r1 = update_topics(TopicRegistry(), _docs(first, d1, vectors, "a"), SMALL, d1, 7)
    assert r1.registry.calibration, "the centred space must be calibrated for this test to mean anything"
    live = assign_to_topics(r1.registry, np.stack([vectors[t] for t in second]), SMALL)
    r2 = update_topics(r1.registry, _docs(second, d2, vectors, "b"), SMALL, d2, 7)
    known = {t.id for t in r1.registry.active}
    nightly = {a.interaction_id: a for a in r2.assignments if a.topic_id in known}
    assert len(nightly) >= len(second) - len(INVOICE) - 4  # the themes' documents mostly join known topics
    agree = sum(live[int(iid[1:])][0] == a.topic_id for iid, a in nightly.items())
    assert agree / len(nightly) >= 0.9
    diffs = [abs(live[int(iid[1:])][1] - a.similarity) for iid, a in nightly.items() if live[int(iid[1:])][0]]
    assert max(diffs) < 0.1  # only the running mean moved (by tonight's documents)
    invoice = [live[len(second) - len(INVOICE) + k][0] for k in range(len(INVOICE))]
    assert invoice.count(None) >= len(INVOICE) // 2  # a theme no topic covers stays unassigned live


def test_live_assignment_raw_space_is_plain_cosine_against_assign_threshold(vectors) -> None:
    raw = TopicSettings(**{**SMALL.model_dump(), "centre": False})
    d1 = dt.date(2026, 11, 1)
    reg = update_topics(TopicRegistry(), _docs(TEXTS, d1, vectors, "a"), raw, d1, 7).registry
    assert reg.active and not reg.calibration
    probe = np.stack([vectors[t] for t in INVOICE[:3] + THEMES["快递"][:3]])
    got = assign_to_topics(reg, probe, raw)
    cents = np.stack([np.asarray(t.centroid) for t in reg.active])
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    sims = (probe / np.linalg.norm(probe, axis=1, keepdims=True)) @ cents.T
    for (tid, sim), row in zip(got, sims, strict=True):
        assert sim == pytest.approx(row.max(), abs=1e-3)
        assert (tid == reg.active[int(row.argmax())].id) == (row.max() >= raw.assign_threshold)
        assert tid is None or row.max() >= raw.assign_threshold
    assert assign_to_topics(TopicRegistry(), probe, raw) == [(None, 0.0)] * len(probe)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, webhook):
    tmp = tmp_path_factory.mktemp("watch")
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(tmp / "inbox"),
           "VOC_EXPORTS_DIR": str(tmp / "exports"), "VOC_TOPICS__MIN_CLUSTER_SIZE": "5",
           "VOC_TOPICS__REDUCE_DIM": "5",
           "VOC_REPORT__WEBHOOKS": json.dumps([{"name": "ops", "kind": "generic", "url": webhook[0]}])}
    settings = load_settings(environ=env)
    store = Store.open(settings.db_url)
    dates = seed_history(store, settings, days=8)  # a spike needs a week of history (SPIKE_HISTORY_DAYS)
    yield settings, store, env, dates
    store.close()


def _topic_with(store, word: str) -> str:
    return next(t["id"] for t in store.topics() if word in t["label"] or word in t["keywords"])


def test_watch_once_alerts_once_a_day_through_the_webhook_and_nightly_replaces_it(seeded, webhook) -> None:
    from voc import pipeline
    from voc.report import build_notifiers

    settings, store, _env, _dates = seeded
    _url, received = webhook
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    delivery = _topic_with(store, "快递")
    state = WatchState()
    notifiers = build_notifiers(settings.report)
    try:
        quiet = watch_once(store, settings, state=state, notifiers=notifiers)
        assert quiet.processed == 0 and quiet.alerts == () and received == []

        write_jsonl(Path(settings.inbox) / "text" / "chat-live-1.jsonl",
                    chat_rows(today, {"快递": 14, "退款": 2}, "live1"))
        first = watch_once(store, settings, state=state, notifiers=notifiers)
        assert first.ingested == first.processed == 16 and first.complaints == 16
        topic_alerts = [a for a in first.alerts if a.topic_id == delivery and a.kind in ("spike", "new")]
        assert len(topic_alerts) == 1, [a.to_dict() for a in first.alerts]
        alert = topic_alerts[0]
        assert set(alert.to_dict()) == ALERT_KEYS
        assert alert.facets == "物流慢" and "物流慢" in alert.markdown()  # 14 delivery chats: the problem is named
        assert alert.count >= 14 and alert.baseline < alert.count / 2
        assert 0 <= alert.latency_s < 60
        assert not any(a.kind == "terms" and a.topic_id == delivery for a in first.alerts)  # folded into the topic

        live_ids = [i.id for i in store.interactions(run_date=today)]
        placed = store.topic_assignments(live_ids)
        assert sum(tid == delivery for tid, _s in placed.values()) >= 13

        assert any(alert.label in p["title"] and "快递" in p["text"] for p in received)
        rows = [r for r in store.deliveries(today) if r["kind"] == ALERT_KIND]
        assert {"target": "ops", "status": "delivered", "location": f"topic:{delivery}"}.items() <= \
            next(r for r in rows if r["location"] == f"topic:{delivery}").items()

        sent_before = len(received)
        write_jsonl(Path(settings.inbox) / "text" / "chat-live-2.jsonl", chat_rows(today, {"快递": 3}, "live2", 5))
        second = watch_once(store, settings, state=state, notifiers=notifiers)
        assert second.processed == 3
        assert not [a for a in second.alerts if a.topic_id == delivery]  # once per topic per day
        assert len(received) == sent_before
    finally:
        for n in notifiers:
            n.close()

    # the nightly topics stage for today replaces the live rows of the date
    result = pipeline.run_stage(store, settings, "topics", today)
    today_rows = [r for r in store.topic_counts(today, today)]
    assert len(today_rows) == result.processed
    assert result.processed >= 17


def test_watch_embeds_through_the_nightly_keys_and_reads_the_nightly_term_counts(seeded, monkeypatch) -> None:
    """Arriving chats (today's and a late one of yesterday) go through the text, embed and sentiment stages: their
    vectors are cached under the keys the nightly jobs look up (job_texts) and the items are marked embedded, so the
    night's embed stage embeds nothing for them. The term-burst history of each cycle is the nightly per-day counts
    (live_history: yesterday, stale after the late chat, counted in memory, nothing written) and equals the
    token-based history recounted from the window's complaints."""
    from voc import pipeline
    from voc.pipeline import watch as watch_mod
    from voc.pipeline.embed import job_texts
    from voc.pipeline.lazy_embedder import embedder_name_for
    from voc.pipeline.term_counts import history_from_scratch
    from voc.topics.bursts import burst_candidates

    settings, store, _env, dates = seeded
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    yesterday = today - dt.timedelta(days=1)
    compared: list[dt.date] = []
    real = watch_mod._history

    def checked(store_, settings_, day, today_tokens, state):
        got, want = real(store_, settings_, day, today_tokens, state), history_from_scratch(store_, settings_, day)
        terms = burst_candidates(today_tokens, settings_.topics)
        assert (got.docs, got.days) == (want.docs, want.days) and want.days >= 3
        assert {t: got.df.get(t, 0) for t in terms} == {t: want.df.get(t, 0) for t in terms}
        compared.append(day)
        return got

    monkeypatch.setattr(watch_mod, "_history", checked)
    counts_before = store.complaint_days(dates[0] - dt.timedelta(days=40), today)
    write_jsonl(Path(settings.inbox) / "text" / "chat-live-4.jsonl",
                chat_rows(today, {"退款": 6, "质量": 2}, "live4", 3) + chat_rows(yesterday, {"退款": 3}, "late4", 1))
    state = WatchState()
    result = watch_once(store, settings, state=state)
    assert result.processed == 11 and not any("failed" in n for n in result.notes), result.notes
    assert sorted(set(compared)) == [yesterday, today]
    assert set(state.counts) == {yesterday}  # stale after the late chat: counted in memory, not stored
    assert store.complaint_days(dates[0] - dt.timedelta(days=40), today) == counts_before

    new = [i for i in store.interactions(since=yesterday, until=today) if (i.external_id or "").startswith(("live4-", "late4-"))]
    assert len(new) == 11
    assert store.interactions(ids=[i.id for i in new], pending_stage="embed") == []
    for job in ("topics", "routing"):
        keys = {k for i in new for k in job_texts(job, i, [], settings)}
        assert keys and store.cached_texts(embedder_name_for("e5"), sorted(keys)) == keys
    night = pipeline.run_stage(store, settings, "embed", today, [i.id for i in new])
    assert (night.processed, night.failed) == (0, 0)  # the night's embed stage finds them done


def test_watch_loop_runs_once_or_until_stopped(seeded) -> None:
    settings, store, _env, _dates = seeded
    cycles: list[int] = []
    assert watch(store, settings, interval=0.5, once=True, on_cycle=lambda r: cycles.append(r.processed)) == 1
    stop = threading.Event()
    runner = threading.Thread(target=lambda: cycles.append(watch(store, settings, interval=0.5, stop=stop)))
    runner.start()
    threading.Timer(1.2, stop.set).start()
    runner.join(timeout=30)
    assert not runner.is_alive() and cycles[-1] >= 2


def test_cli_watch_once_prints_one_json_line_per_alert(seeded) -> None:
    from voc.cli import app

    settings, store, env, _dates = seeded
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    quality = _topic_with(store, "质量")
    write_jsonl(Path(settings.inbox) / "text" / "chat-live-3.jsonl", chat_rows(today, {"质量": 15}, "live3"))
    res = CliRunner().invoke(app, ["watch", "--once", "--json"], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert lines and all(set(x) == ALERT_KEYS for x in lines)
    assert any(x["topic_id"] == quality and x["count"] >= 15 for x in lines), lines
