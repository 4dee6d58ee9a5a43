"""load_embedder: one model per backend and process, whatever form the call takes."""

from voc.semantic import embedders


def test_e5_loads_once_for_every_call_form(monkeypatch):
    made = []
    monkeypatch.setitem(embedders.BACKENDS, "e5", lambda st, seed: made.append((st, seed)) or object())
    embedders.load_embedder.cache_clear()
    try:
        a = embedders.load_embedder("e5")
        b = embedders.load_embedder("e5", None, 42)
        c = embedders.load_embedder("e5", "ignored", 7)
        assert a is b is c
        assert made == [(None, 42)]
    finally:
        embedders.load_embedder.cache_clear()


def test_other_backends_keep_their_arguments(monkeypatch):
    made = []
    monkeypatch.setitem(embedders.BACKENDS, "tfidf", lambda st, seed: made.append(seed) or object())
    embedders.load_embedder.cache_clear()
    try:
        assert embedders.load_embedder("tfidf", None, 1) is not embedders.load_embedder("tfidf", None, 2)
        assert made == [1, 2]
    finally:
        embedders.load_embedder.cache_clear()
