"""Rebuild voc/routing/example_vectors.npz: e5 vectors of the shipped training texts (departments and service types
files), so `voc route` and a fresh store fit the routing model without embedding ~800 texts first.

Run after editing voc/routing/departments.yaml or service_types.yaml (texts already in the file are reused):
    OMP_NUM_THREADS=1 .venv/bin/python bench/routing/build_example_vectors.py
"""

from __future__ import annotations

import sys
import time

import numpy as np

from voc.routing import department_examples, load_departments, load_service_types, service_type_examples
from voc.routing.model import DEFAULT_EXAMPLE_VECTORS
from voc.semantic import EmbeddingCache, embed_with_cache, load_embedder, text_hash


def main() -> int:
    embedder = load_embedder("e5")
    texts = sorted({ex.text for ex in department_examples(load_departments())}
                   | {ex.text for ex in service_type_examples(load_service_types())})
    old = EmbeddingCache.load(DEFAULT_EXAMPLE_VECTORS, embedder.name) if DEFAULT_EXAMPLE_VECTORS.is_file() \
        else EmbeddingCache(embedder.name, embedder.dim)
    cache = EmbeddingCache(embedder.name, embedder.dim)
    known = [t for t in texts if t in old]
    if known:
        cache.put(known, np.stack([old.get(t) for t in known]))
    t0 = time.perf_counter()
    vectors = embed_with_cache(embedder, texts, cache)
    # float16 halves the file; cosine similarities move by < 1e-3.
    hashes = np.array([text_hash(t) for t in texts], dtype="U40")
    np.savez_compressed(DEFAULT_EXAMPLE_VECTORS, hashes=hashes, vectors=vectors.astype(np.float16),
                        embedder=np.array(embedder.name))
    print(f"{len(texts)} texts ({len(texts) - len(known)} new, {time.perf_counter() - t0:.1f} s) -> "
          f"{DEFAULT_EXAMPLE_VECTORS} {vectors.shape}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
