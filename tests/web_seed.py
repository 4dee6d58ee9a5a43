"""A small store for the web app tests, filled through the real Store / ReviewQueue / ingest / report APIs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import write_jsonl, write_tone_wav
from voc.config import Settings, load_settings
from voc.records import (
    CallMetrics,
    CallSentiment,
    Channel,
    Finding,
    Interaction,
    QAResult,
    Role,
    Route,
    RuleOutcome,
    SentimentScore,
    Utterance,
)
from voc.store import Store
from voc.store.review import ReviewQueue
from voc.web.users import Users

DAY = dt.date(2026, 11, 20)
PASSWORD = "correct horse 42"
PLANTED_PHONE = "13912345678"
USERS = {"alice": "reviewer", "bob": "reviewer", "sam": "supervisor", "olga": "department_owner"}

LINES = [  # (role, start, end, text): already redacted, as the transcribe stage stores them
    (Role.AGENT, 0.0, 1.8, "您好，海川智家售后服务，请问有什么可以帮您"),
    (Role.CUSTOMER, 1.9, 3.9, "我的洗衣机漏水了，你们到底管不管"),
    (Role.AGENT, 4.0, 5.9, "非常抱歉给您带来不便，请提供一下手机号[PHONE]"),
    (Role.CUSTOMER, 6.0, 7.9, "快点派人来修，不然我就投诉"),
]


@dataclass
class Seeded:
    settings: Settings
    store: Store
    root: Path
    calls: dict[str, str]  # external id -> interaction id
    items: dict[str, int]  # external id -> review item id
    chat_id: str
    tokens: dict[str, str] = field(default_factory=dict)
    outside_file: Path | None = None


def _call(ext: str, wav: Path, n: int) -> Interaction:
    return Interaction(
        id=f"call-{ext.lower()}", channel=Channel.CALL, business_date=DAY - dt.timedelta(days=n % 2),
        content_hash=f"hash-{ext}", external_id=ext, source_path=str(wav),
        started_at=dt.datetime(2026, 11, 20, 9, n, tzinfo=dt.UTC), queue="retail_after_sales", agent_id="A102",
        customer_id=f"U{max(n, 1):04d}", customer_tier="gold",  # C100 and C101: one customer, a repeat chain customer_value=1000.0,
        attributes={"product": "W7滚筒洗衣机", "contact_phone": PLANTED_PHONE},
    )


def seed(root: Path, db_url: str | None = None, schema: str | None = None) -> Seeded:
    root.mkdir(parents=True, exist_ok=True)
    exports = root / "exports"
    settings = load_settings(environ={}, database_url=db_url or f"sqlite:///{root / 'voc.db'}", exports_dir=str(exports),
                             inbox=str(root / "inbox"), web={"secret_key": "test-secret-key-not-for-production"},
                             routing={"embedder": "none"})
    store = Store.open(settings.db_url, schema=schema)
    queue = ReviewQueue(store.db)
    wav = write_tone_wav(root / "inbox" / "recordings" / "C100.wav", seconds=8.0, rate=8000, channels=1)

    calls, items = {}, {}
    for n, (ext, score) in enumerate([("C100", 55.0), ("C101", 62.0), ("C102", 40.0)]):
        inter = _call(ext, wav, n)
        store.add_interaction(inter, "audio")
        utts = [Utterance(inter.id, k, role, s, e, text) for k, (role, s, e, text) in enumerate(LINES)]
        metrics = CallMetrics(inter.id, 8.0, 3.7, 3.9, 0.4, 0.1, 0.0, 0, 200.0, 220.0, 0.49)
        store.replace_transcript(inter.id, utts, metrics, language="zh", model="test", options={}, pii={"phone": 1})
        store.replace_sentiment(inter.id, [SentimentScore(inter.id, 1, -0.7, "negative"),
                                           SentimentScore(inter.id, 3, -0.8, "negative")],
                                CallSentiment(inter.id, (-0.75, 0.0, 0.6)[n], -0.7, -0.8, "worsening", n == 0, (), "lexicon"))
        outcomes = (
            RuleOutcome("greeting", "开场问候", True, 10.0,
                        ({"idx": 0, "start": 0.0, "end": 1.8, "text": LINES[0][3], "matched": "您好", "how": "exact",
                          "window": "您好"},), "matched (exact)"),
            RuleOutcome("empathy", "安抚致歉", True, 20.0,
                        ({"idx": 2, "start": 4.0, "end": 5.9, "text": LINES[2][3], "matched": "抱歉", "how": "exact",
                          "window": "非常抱歉"},), "matched (exact)"),
            RuleOutcome("closing", "结束语", False, 15.0, (), "not found in agent speech"),
        )
        store.replace_qa(QAResult(inter.id, "retail_after_sales", "retail_after_sales", score, outcomes,
                                  ("low_score", "negative_sentiment")))
        queue.enqueue(inter.id, "retail_after_sales", ["low_score", "negative_sentiment"], priority=100 - score)
        calls[ext] = inter.id
        items[ext] = next(i.id for i in queue.items() if i.interaction_id == inter.id)

    # A chat whose source holds a phone number: ingest (the real one) stores the text redacted.
    write_jsonl(root / "inbox" / "text" / "chats.jsonl", [{
        "id": "T900", "channel": "chat", "created_at": "2026-11-20T10:00:00+08:00", "customer_id": "U9000",
        "text": f"我的电话是{PLANTED_PHONE}，快递三天没到，请尽快处理", "product": "R5电饭煲", "phone": PLANTED_PHONE,
    }, {  # a customer who owns the leaking washer but has not complained: the outreach list finds her
        "id": "T901", "channel": "chat", "created_at": "2026-11-19T15:00:00+08:00", "customer_id": "U9001",
        "customer_tier": "vip", "text": "请问洗衣机的保修期是多久", "product": "W7滚筒洗衣机",
        "region": "=HYPERLINK(\"http://x\",\"点我\")",  # a hostile cell: the CSV must keep it inert
    }])
    from voc.pipeline import ingest_inbox

    ingest_inbox(store, settings, inbox=root / "inbox")
    chat_id = store.resolve_ids(["T900"])[0]
    queue.enqueue(chat_id, "chat", ["sample"], priority=1.0)
    items["T900"] = next(i.id for i in queue.items() if i.interaction_id == chat_id)

    # Topics and assignments as rows (the topic stage's store API is still moving); findings and routes via records.
    from voc.store.schema import TopicAssignmentRow, TopicRow

    with store.db.session() as sess:
        sess.add(TopicRow(id="t0001", label="洗衣机漏水", keywords=["洗衣机", "漏水"], examples=["洗衣机漏水了"], size=3,
                          status="active", created_on=DAY - dt.timedelta(days=1), last_seen=DAY, state={}))
        for ext, day, sim in (("C101", DAY - dt.timedelta(days=1), 0.95), ("C100", DAY, 0.97), ("C102", DAY, 0.96)):
            sess.add(TopicAssignmentRow(interaction_id=calls[ext], topic_id="t0001", similarity=sim, business_date=day))
        # a second topic, about deliveries, that the router sent to after-sales: the owner re-routes it
        sess.add(TopicRow(id="t0002", label="快递延误", keywords=["快递", "没到"], examples=["快递三天没到"], size=1,
                          status="active", created_on=DAY, last_seen=DAY, state={}))
        sess.add(TopicAssignmentRow(interaction_id=chat_id, topic_id="t0002", similarity=0.9, business_date=DAY))
    finding = Finding("f-t0001", "emerging_topic", DAY, "新话题：洗衣机漏水", "3 calls in 2 days (C100, C102)", "t0001",
                      3, 3, 3.0, ("洗衣机漏水了",), tuple(calls.values()))
    misrouted = Finding("f-t0002", "emerging_topic", DAY, "新话题：快递延误", "1 chat (T900)", "t0002", 1, 1, 1.0,
                        ("快递三天没到",), (chat_id,))
    qa = Finding("qa:closing", "qa_pattern", DAY, "结束语缺失", "3 calls missed the closing", None, 3, 2, 2.0, (),
                 tuple(calls.values()))
    store.replace_findings(DAY, ["emerging_topic"], [finding, misrouted])
    store.replace_findings(DAY, ["qa_pattern"], [qa])
    store.replace_routes([Route("f-t0001", "after_sales", 0.8, "keyword 漏水"),
                          Route("f-t0002", "after_sales", 0.4, "keyword 没到"),
                          Route("qa:closing", "customer_service", 0.9, "QA pattern")])
    run_id = store.start_run(DAY, ["ingest", "qa"], "test")
    store.finish_run(run_id, "done")

    from voc.pipeline.report import run as report

    report(store, settings, DAY)  # the real report stage: digests, overview, customer exports
    outside = root / "secret.txt"
    outside.write_text("not for the web", encoding="utf-8")

    users = Users(store.db)
    tokens = {}
    for name, role in USERS.items():
        users.add(name, role, PASSWORD, department="after_sales" if role == "department_owner" else None)
        tokens[name] = users.issue_token(name)
    return Seeded(settings, store, root, calls, items, chat_id, tokens, outside)
