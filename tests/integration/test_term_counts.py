"""Term-burst history from per-day counts (issue 22, flat nightly cost) equals a recount of the window from scratch:
night after night, after a late arrival, a reprocessed item and a changed complaint rule, on SQLite and PostgreSQL;
and a multi-night run of the real stages raises the same findings either way."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from voc.config import load_settings
from voc.pipeline.term_counts import (
    burst_history,
    history_from_scratch,
    live_history,
    record_day,
    refresh_window,
    source_key,
)
from voc.records import Channel, Interaction
from voc.topics.bursts import burst_candidates
from voc.topics.findings import tokens_by_id

D0 = dt.date(2026, 11, 2)
PHRASES = ["快递三天还没到", "退款一直没有到账", "客服态度很差", "安装师傅迟到了", "app登录不上去", "发票开错了",
           "洗衣机噪音很大", "冰箱不制冷了", "物流信息不更新", "电饭煲煮饭夹生"]
LEAK = "X3空调漏水，滴水严重"


def _chat(n: int, day: dt.date, text: str) -> Interaction:
    return Interaction(id=f"chat-{day:%m%d}-{n:03d}", channel=Channel.CHAT, business_date=day, content_hash=f"h{day}{n}",
                       external_id=f"T{day:%m%d}{n:03d}", customer_id=f"U{n % 7}", text=text)


def _fill(store, days: int, per_day: int = 30, seed: int = 3) -> None:
    rng = random.Random(seed)
    for k in range(days):
        day = D0 + dt.timedelta(days=k)
        for n in range(per_day):
            store.add_interaction(_chat(n, day, "，".join(rng.sample(PHRASES, 2))), "text")
        if k >= days - 2:  # a leak starts on the last two nights
            for n in range(per_day, per_day + 6):
                store.add_interaction(_chat(n, day, LEAK), "text")


def _same(store, settings, night: dt.date, counted: dict | None = None) -> None:
    """The stored counts' history (``counted`` given: the read-only one of voc watch) equals a recount."""
    from voc.pipeline.topics import complaint_docs

    tonight = tokens_by_id(complaint_docs(store, settings, night))
    got = (burst_history(store, settings, night, tonight) if counted is None
           else live_history(store, settings, night, tonight, counted))
    want = history_from_scratch(store, settings, night)
    terms = burst_candidates(tonight, settings.topics)
    assert terms
    assert (got.docs, got.days) == (want.docs, want.days)
    assert {t: got.df.get(t, 0) for t in terms} == {t: want.df.get(t, 0) for t in terms}


def _settings(tmp_path: Path, **env: str):
    return load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "VOC_INBOX": str(tmp_path),
                                  "VOC_EXPORTS_DIR": str(tmp_path / "exports"), **env})


def test_counts_equal_a_recount_night_after_night(store, tmp_path) -> None:
    from voc.pipeline.topics import complaint_docs

    settings = _settings(tmp_path)
    _fill(store, 11)
    for k in range(3, 10):  # each night as the topics stage does it: history, then tonight's own counts
        night = D0 + dt.timedelta(days=k)
        key = source_key(store, settings, night)
        _same(store, settings, night)
        record_day(store, night, key, list(tokens_by_id(complaint_docs(store, settings, night)).values()))
    after = D0 + dt.timedelta(days=10)
    assert refresh_window(store, settings, after) == []  # every date already counted: nothing tokenized again
    _same(store, settings, after)

    late = D0 + dt.timedelta(days=4)
    store.add_interaction(_chat(99, late, LEAK), "text")  # a late arrival for an earlier date
    assert refresh_window(store, settings, after) == [late]
    _same(store, settings, after)

    store.mark("sentiment", _chat(1, D0 + dt.timedelta(days=5), "").id, "done")  # a reprocessed item
    assert refresh_window(store, settings, after) == [D0 + dt.timedelta(days=5)]

    stricter = _settings(tmp_path, VOC_TOPICS__MIN_CHARS="14")  # another complaint rule: every date recounted
    assert len(refresh_window(store, stricter, after)) == 10
    _same(store, stricter, after)


def test_the_live_history_reads_the_counts_and_writes_none(store, tmp_path, monkeypatch) -> None:
    """voc watch's history (live_history) equals a recount while dates are stale (a late arrival, a reprocessed
    item, a date never counted): those are counted in memory, once per source key, and nothing is stored."""
    from voc.pipeline import term_counts
    from voc.pipeline.topics import complaint_docs

    settings = _settings(tmp_path)
    _fill(store, 11)
    after = D0 + dt.timedelta(days=10)
    window = (D0, after - dt.timedelta(days=1))
    for k in range(3, 8):  # nights 3-7 counted by the nightly path; 8 and 9 never were
        night = D0 + dt.timedelta(days=k)
        key = source_key(store, settings, night)
        refresh_window(store, settings, night)
        record_day(store, night, key, list(tokens_by_id(complaint_docs(store, settings, night)).values()))
    stored = store.complaint_days(*window)
    tokenized: list[list[dt.date]] = []
    real = term_counts._day_tokens
    monkeypatch.setattr(term_counts, "_day_tokens", lambda st, s, days: tokenized.append(list(days)) or real(st, s, days))

    counted: dict = {}
    _same(store, settings, after, counted)
    assert tokenized == [[D0 + dt.timedelta(days=8), D0 + dt.timedelta(days=9)]] and set(counted) == set(tokenized[0])
    _same(store, settings, after, counted)
    assert tokenized[1:] == [[]]  # the next cycle: nothing tokenized again

    late = D0 + dt.timedelta(days=4)
    store.add_interaction(_chat(99, late, LEAK), "text")  # a late arrival for a date the nightly path counted
    _same(store, settings, after, counted)
    assert tokenized[-1] == [late]
    store.mark("sentiment", _chat(1, D0 + dt.timedelta(days=5), "").id, "done")  # a reprocessed item
    _same(store, settings, after, counted)
    assert tokenized[-1] == [D0 + dt.timedelta(days=5)]
    assert store.complaint_days(*window) == stored  # the nightly path's counts, untouched
    burst_history(store, settings, after, {})  # the nightly path counts the stale dates: the live history follows
    _same(store, settings, after, counted)
    assert tokenized[-1] == []


def test_multi_night_run_raises_the_same_findings(tmp_path, monkeypatch) -> None:
    """The real stages over nine nights, once with the per-day counts and once recounting the window every night
    (the code before them): every night's findings (term bursts included) are equal."""
    from voc import pipeline
    from voc.pipeline import term_counts
    from voc.store import Store

    rng = random.Random(5)
    rows = []
    for k in range(9):
        day = D0 + dt.timedelta(days=k)
        texts = ["，".join(rng.sample(PHRASES, 2)) for _ in range(14)] + ([LEAK] * 6 if k >= 7 else [])
        rows += [{"id": f"c{k}-{n}", "text": t, "created_at": f"{day}T{9 + n % 8:02d}:00:00", "customer_id": f"u{n % 9}",
                  "channel": "chat"} for n, t in enumerate(texts)]

    def night_findings(name: str) -> dict[str, list]:
        work = tmp_path / name
        (work / "inbox" / "text").mkdir(parents=True)
        (work / "inbox" / "text" / "chats.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        settings = load_settings(environ={
            "VOC_DATABASE_URL": f"sqlite:///{work / 'voc.db'}", "VOC_INBOX": str(work / "inbox"),
            "VOC_EXPORTS_DIR": str(work / "exports"), "VOC_TOPICS__EMBEDDER": "tfidf",
            "VOC_TOPICS__MIN_CLUSTER_SIZE": "5", "VOC_TOPICS__REDUCE_DIM": "5"})
        store = Store.open(settings.db_url)
        out = {}
        try:
            for k in range(9):
                day = D0 + dt.timedelta(days=k)
                summary = pipeline.run(store, settings, day, ["ingest", "text", "sentiment", "topics"])
                assert summary.status == "done", summary.to_dict()
                out[day.isoformat()] = [
                    (f.id, f.kind, f.title, f.count, f.interaction_ids, json.dumps(f.details, sort_keys=True, default=str))
                    for f in store.findings(run_date=day)]
        finally:
            store.close()
        return out

    counted = night_findings("counted")
    with monkeypatch.context() as mp:
        mp.setattr(term_counts, "burst_history",
                   lambda store, settings, run_date, today: term_counts.history_from_scratch(store, settings, run_date))
        recounted = night_findings("recounted")
    assert counted == recounted
    bursts = [f for fs in counted.values() for f in fs if f[1] == "emerging_terms" or "burst_terms" in f[5]]
    assert bursts, counted


def test_empty_window_has_no_history(store, tmp_path) -> None:
    settings = _settings(tmp_path)
    history = burst_history(store, settings, D0, {"a": ["x3"]})
    assert (history.docs, history.days, dict(history.df)) == (0, 0, {})
