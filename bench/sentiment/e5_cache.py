"""e5 vectors of the shared sentiment sets, cached under bench/sentiment/results/e5 (git-ignored, never shipped).

Embedding all 29,752 texts costs ~20-30 min on one core, so it is done once, in resumable chunks:

    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/e5_cache.py
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.sentiment.e5 import MAX_CHARS, embed  # noqa: E402
from voc.sentiment.train import DATASETS, load_corpora  # noqa: E402

CACHE = REPO / "bench" / "sentiment" / "results" / "e5"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentiment"
CHUNK = 1024
log = logging.getLogger("e5_cache")


def _key(texts: Sequence[str], max_chars: int) -> str:
    return hashlib.sha256(("\x1f".join(texts) + f"|{max_chars}").encode("utf-8")).hexdigest()[:16]


def cached_vectors(tag: str, texts: Sequence[str], max_chars: int = MAX_CHARS, compute: bool = True) -> np.ndarray | None:
    """(len(texts), 384) e5 vectors, computed chunk by chunk and cached; None if absent and not ``compute``."""
    texts = list(texts)
    key = _key(texts, max_chars)
    final = CACHE / f"{tag}-{key}.npy"
    if final.is_file():
        return np.load(final)
    if not compute:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    parts = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        part = CACHE / f"{tag}-{key}.part{start // CHUNK:03d}.npy"
        if not part.is_file():
            np.save(part, embed(chunk, max_chars))
        parts.append(part)
        done = min(start + CHUNK, len(texts))
        log.info("e5 %s: %d/%d (%.0f s)", tag, done, len(texts), time.perf_counter() - t0)
    out = np.concatenate([np.load(p) for p in parts])
    np.save(final, out)
    for p in parts:
        p.unlink()
    return out


SHARED_CACHE = Path("/work/e5cache/e5-query.npz")  # every shared text's e5 vectors in several forms (see --help)
FORMS = ("cut", "clip", "raw", "cut128", "static")  # static: not e5, the distilled e5-static table (voc.semantic)


def form_of(text: str, form: str) -> str:
    """The string embedded for ``text`` in a cut form: 'cut' (first 512 chars: E5Embedder's input and the store
    cache's key, what heads with text_form 'cut' read), 'clip' (128-char head+tail, older heads), 'raw', 'cut128'."""
    from voc.sentiment.e5 import clip_text, cut_text

    if form == "cut":
        return cut_text(text)
    if form == "clip":
        return clip_text(text)
    if form == "cut128":
        return text[:128]
    if form == "raw":
        return text
    raise ValueError(f"e5 text form {form!r}: expected one of {', '.join(FORMS)}")


def shared_vectors(texts: Sequence[str], form: str, path: Path = SHARED_CACHE, compute: bool = True) -> np.ndarray | None:
    """(len(texts), 384) vectors of ``form_of(text, form)`` from a voc.semantic EmbeddingCache npz (the
    precomputed e5 'query:' vectors of E5Embedder); inputs it lacks are embedded here (or None if not ``compute``)."""
    if form == "static":
        return static_vectors(texts)
    if not Path(path).is_file():
        return None
    cache = _load_shared(str(path))
    inputs = [form_of(t, form) for t in texts]
    missing = sorted({t for t in inputs if t not in cache})
    extra = CACHE / f"shared-extra-{_key(missing, 0)}.npz"  # what the shared cache lacked, embedded here once
    if missing and extra.is_file():
        from voc.semantic import EmbeddingCache

        have = EmbeddingCache.load(extra)
        cache.put(missing, np.stack([have.get(t) for t in missing]))
    elif missing:
        if not compute:
            return None
        log.info("e5 %s: %d of %d inputs not in %s, embedding them", form, len(missing), len(set(inputs)), path)
        from voc.semantic import EmbeddingCache
        from voc.sentiment.e5 import embed_inputs

        vectors = embed_inputs(missing)
        cache.put(missing, vectors)
        side = EmbeddingCache(cache.embedder_name, cache.dim)
        side.put(missing, vectors)
        CACHE.mkdir(parents=True, exist_ok=True)
        side.save(extra)
    return np.stack([cache.get(t) for t in inputs]).astype(np.float32)


def static_vectors(texts: Sequence[str]) -> np.ndarray | None:
    """Vectors of the e5-static backend (a word table distilled from the same e5 model, ~1 ms a text; its table
    from ``voc models distill``) of the stripped texts, cached per table; None without a table."""
    from voc.semantic import load_embedder
    from voc.semantic.static import DEFAULT_TABLE

    if not DEFAULT_TABLE.is_file():
        return None
    embedder = load_embedder("e5-static")
    final = CACHE / f"static-{_key(list(texts), 0)}-{embedder.name.replace(':', '_')}.npy"
    if final.is_file():
        return np.load(final)
    t0 = time.perf_counter()
    out = np.asarray(embedder.embed([t.strip() for t in texts]), dtype=np.float32)
    log.info("e5-static: %d texts in %.0f s (%s)", len(texts), time.perf_counter() - t0, embedder.name)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(final, out)
    return out


_SHARED: dict[str, object] = {}


def _load_shared(path: str):
    from voc.semantic import EmbeddingCache

    if path not in _SHARED:
        _SHARED[path] = EmbeddingCache.load(path)
    return _SHARED[path]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", default="waimai,shopping,hotel")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    names = [n for n in args.datasets.split(",") if n in DATASETS]
    corpora = load_corpora(args.data_dir, 42, names)
    for name in names:
        x = cached_vectors(name, [r.text for r in corpora[name]])
        log.info("%s: %s", name, x.shape)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
