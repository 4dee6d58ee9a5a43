"""``voc topics list|show|history|fit`` on a real store filled by the nightly stages (jieba TF-IDF embedder for
speed; ``fit`` also on the default e5), and the store methods behind them on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from tests.topics_seed import seed_history
from tests.unit.test_topics import THEMES
from voc.cli import app
from voc.config import load_settings
from voc.records import Channel, Interaction
from voc.store import Store
from voc.topics import Topic, TopicEvent


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("topics-cli")
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(tmp / "inbox"),
           "VOC_EXPORTS_DIR": str(tmp / "exports"), "VOC_TOPICS__MIN_CLUSTER_SIZE": "5",
           "VOC_TOPICS__REDUCE_DIM": "5", "VOC_TOPICS__EMBEDDER": "tfidf"}
    settings = load_settings(environ=env)
    store = Store.open(settings.db_url)
    dates = seed_history(store, settings)
    yield env, store, dates
    store.close()


def _run(env, args: list[str]):
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def _json(env, args: list[str]):
    res = _run(env, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_list_shows_the_latest_night_with_counts(filled) -> None:
    env, store, dates = filled
    data = _json(env, ["topics", "list", "--json"])
    assert data["date"] == data["registry_date"] == dates[-1].isoformat()
    rows = data["topics"]
    assert rows and set(rows[0]) == {"id", "label", "keywords", "size", "count", "status", "merged_into", "created",
                                     "last_seen"}
    assert all(r["status"] == "active" for r in rows)
    assert sum(r["count"] for r in rows) == len(store.topic_counts(dates[-1], dates[-1]))
    themes = {w for r in rows for w in THEMES if w in r["label"] or w in r["keywords"]}
    assert len(themes) >= 3  # the seeded themes came out as topics
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)

    first = _json(env, ["topics", "list", "--date", dates[0].isoformat(), "--json"])
    assert first["registry_date"] == dates[0].isoformat()
    assert all(r["created"] == dates[0].isoformat() for r in first["topics"])
    assert {r["id"] for r in first["topics"]} <= {r["id"] for r in _json(env, ["topics", "list", "--all", "--json"])["topics"]}

    human = _run(env, ["topics", "list"])
    assert human.exit_code == 0 and rows[0]["id"] in human.stdout


def test_show_has_counts_examples_and_department(filled) -> None:
    env, store, dates = filled
    tid = _json(env, ["topics", "list", "--json"])["topics"][0]["id"]
    data = _json(env, ["topics", "show", tid, "--json"])
    assert data["id"] == tid and data["label"] and data["keywords"] and data["examples"]
    assert data["created"] == dates[0].isoformat() and data["last_seen"] == dates[-1].isoformat()
    counts = {d["date"]: d["count"] for d in data["daily_counts"]}
    assert len(counts) == load_settings(environ=env).topics.window_days
    assert sum(counts.values()) == sum(t == tid for t, _d in store.topic_counts(dates[0], dates[-1]))
    assert counts[dates[-1].isoformat()] > 0
    assert data["finding"] and data["finding"].endswith(tid)
    assert data["department"] == store.routes([data["finding"]])[0].department
    human = _run(env, ["topics", "show", tid])
    assert human.exit_code == 0 and data["label"] in human.stdout


def test_history_lists_creation_and_nightly_updates(filled) -> None:
    env, _store, dates = filled
    tid = _json(env, ["topics", "list", "--json"])["topics"][0]["id"]
    data = _json(env, ["topics", "history", tid, "--json"])
    events = data["events"]
    assert data["id"] == tid and events[0]["event"] == "created" and events[0]["date"] == dates[0].isoformat()
    assert events[0]["size"] > 0 and all(e["topic_id"] == tid or e["other"] == tid for e in events)
    assert {e["date"] for e in events if e["event"] == "updated"} >= {d.isoformat() for d in dates[1:]}
    assert [e["date"] for e in events] == sorted(e["date"] for e in events)


def test_findings_name_their_facets(filled) -> None:
    env, store, dates = filled
    rows = _json(env, ["topics", "list", "--json"])["topics"]
    delivery = next(r["id"] for r in rows if "快递" in r["label"] or "快递" in r["keywords"])
    f = store.latest_topic_finding(delivery)
    facets = f.details["facets"]
    assert f.run_date == dates[-1] and facets["members"] == f.count
    assert facets["aspect"] == "物流慢" and facets["aspect_count"] * 2 >= f.count
    assert facets["name"] == "物流慢" and f.title.startswith("物流慢 · ")


@pytest.mark.parametrize("command", [["show", "T9999"], ["history", "T9999"]])
def test_unknown_topic_exits_1(filled, command) -> None:
    env, _store, _dates = filled
    res = _run(env, ["topics", *command])
    assert res.exit_code == 1 and "unknown topic 'T9999'" in " ".join(res.output.split())


def _fit_file(tmp_path):
    lines = [t for texts in THEMES.values() for t in texts]
    lines[5:5] = ["", "   "]
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def _check_fit(data, lines) -> dict[str, Counter]:
    assert set(data) == {"topics", "assignments", "options"} and len(data["assignments"]) == len(lines)
    assert data["options"]["reducer"] in ("pca", "umap") and data["options"]["min_cluster_size"] >= 2
    assert data["assignments"][5] == data["assignments"][6] == -1
    sizes = Counter(a for a in data["assignments"] if a != -1)
    assert {t["id"]: t["size"] for t in data["topics"]} == dict(sizes)
    assert all(set(t) == {"id", "label", "size"} and t["label"] for t in data["topics"])
    theme_of = {t: k for k, texts in THEMES.items() for t in texts}
    by_theme: dict[str, Counter] = {}
    for a, line in zip(data["assignments"], lines, strict=True):
        if line.strip():
            by_theme.setdefault(theme_of[line], Counter())[a] += 1
    return by_theme


def test_fit_tfidf_aligns_assignments_with_input_lines(tmp_path) -> None:
    path, lines = _fit_file(tmp_path)
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_TOPICS__EMBEDDER": "tfidf",
           "VOC_TOPICS__MIN_CLUSTER_SIZE": "5", "VOC_TOPICS__REDUCE_DIM": "5"}
    data = _json(env, ["topics", "fit", "--file", str(path), "--json"])
    by_theme = _check_fit(data, lines)
    assert len(data["topics"]) >= 3
    # each theme's assigned documents sit mostly in one topic of their own
    mains = [max((c for c in counts.items() if c[0] != -1), key=lambda c: c[1], default=(None, 0))
             for counts in by_theme.values()]
    assert len({m[0] for m in mains if m[0]}) >= 3


def test_fit_default_e5_separates_the_themes(tmp_path) -> None:
    path, lines = _fit_file(tmp_path)
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_TOPICS__MIN_CLUSTER_SIZE": "5",
           "VOC_TOPICS__REDUCE_DIM": "5"}
    data = _json(env, ["topics", "fit", "--file", str(path), "--json"])
    by_theme = _check_fit(data, lines)
    assert len(data["topics"]) == len(THEMES)
    for counts in by_theme.values():
        top, n = counts.most_common(1)[0]
        assert top != -1 and n / sum(counts.values()) >= 0.8
    assert len({c.most_common(1)[0][0] for c in by_theme.values()}) == len(THEMES)
    human = _run(env, ["topics", "fit", "--file", str(path)])
    assert human.exit_code == 0 and f"{data['assignments'][0]}\t{lines[0]}" in human.stdout


def test_fit_with_umap_is_repeatable(tmp_path) -> None:
    pytest.importorskip("umap")
    path, lines = _fit_file(tmp_path)
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_TOPICS__EMBEDDER": "tfidf",
           "VOC_TOPICS__MIN_CLUSTER_SIZE": "5", "VOC_TOPICS__FIT_REDUCER": "umap"}
    data = _json(env, ["topics", "fit", "--file", str(path), "--json"])
    by_theme = _check_fit(data, lines)
    assert data["options"]["reducer"] == "umap" and data["options"]["reduce_dim"] == 5
    assert len({c.most_common(1)[0][0] for c in by_theme.values()} - {-1}) >= 3
    assert _json(env, ["topics", "fit", "--file", str(path), "--json"]) == data  # fixed seed, same topics


def test_fit_missing_file_is_a_usage_error(tmp_path) -> None:
    res = _run({"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"},
               ["topics", "fit", "--file", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2 and "nope.txt: no such file" in " ".join(res.output.split())


def test_list_on_an_empty_store_says_so(tmp_path) -> None:
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    assert _run(env, ["topics", "list", "--json"]).exit_code == 2  # a read command never creates the database
    assert _run(env, ["init"]).exit_code == 0
    assert _json(env, ["topics", "list", "--json"]) == {"date": None, "registry_date": None, "topics": []}
    assert "no topics yet" in _run(env, ["topics", "list"]).stdout


# ---- store methods behind the commands, on both databases ---------------------------------------
D0 = dt.date(2026, 11, 1)


def _topic(tid: str, **kw) -> Topic:
    return Topic(id=tid, label=f"标签{tid}", keywords=("空调",), centroid=(0.1, 0.2), size=3, created=D0, last_seen=D0,
                 **kw)


def test_live_assignments_are_added_then_replaced_by_the_night(store) -> None:
    items = [Interaction(id=f"i{k}", channel=Channel.CHAT, business_date=D0, content_hash=f"h{k}", text="空调漏水")
             for k in range(4)]
    store.add_interactions([(i, "text") for i in items])
    store.replace_topic_assignments(D0, [("i0", "T0001", 0.9, D0)])
    store.add_topic_assignments([("i1", "T0001", 0.8, D0), ("i2", "T0002", 0.7, D0)])
    store.add_topic_assignments([("i2", "T0001", 0.75, D0)])  # reassigned: one row per interaction
    assert store.topic_assignments(["i0", "i1", "i2"]) == {"i0": ("T0001", 0.9), "i1": ("T0001", 0.8),
                                                           "i2": ("T0001", 0.75)}
    store.replace_topic_assignments(D0, [("i3", "T0002", 0.6, D0)])  # the nightly run of the date
    assert store.topic_counts(D0, D0) == [("T0002", D0)]
    # a late complaint of D0 placed live on the next day stays in that next night's noise pool
    d1 = D0 + dt.timedelta(days=1)
    store.add_topic_assignments([("i0", "T0001", 0.9, D0)], assigned_on=d1)
    assert store.assigned_before(["i0", "i3"], d1) == {"i3"}
    assert store.assigned_before(["i0"], d1 + dt.timedelta(days=1)) == {"i0"}


def test_topic_events_include_topics_merged_into_it(store) -> None:
    d1 = D0 + dt.timedelta(days=1)
    store.save_topic_run(D0, {}, [_topic("T0001"), _topic("T0002")],
                         [TopicEvent(D0, "created", "T0001", None, 5), TopicEvent(D0, "created", "T0002", None, 4)])
    store.save_topic_run(d1, {}, [_topic("T0001"), _topic("T0002", status="merged", merged_into="T0001")],
                         [TopicEvent(d1, "updated", "T0001", None, 2, None, 2),
                          TopicEvent(d1, "merged", "T0002", "T0001", 4, 0.93, 2)])
    events = store.topic_events("T0001")
    assert [(e["date"], e["event"], e["topic_id"]) for e in events] == [
        (D0.isoformat(), "created", "T0001"), (d1.isoformat(), "updated", "T0001"), (d1.isoformat(), "merged", "T0002")]
    assert events[-1]["other"] == "T0001" and events[-1]["similarity"] == 0.93
    assert [e["event"] for e in store.topic_events("T0002")] == ["created", "merged"]
    assert store.topic_events("T0003") == []
