"""(Re)write voc/qa/scripts/examples/vectors.npz: the e5 vectors of every sentence of the shipped scripts' training
examples, so the step model fits in seconds on a fresh install (sentences missing from the file are embedded at fit
time and cached in the store). Run after editing the examples:

    .venv/bin/python bench/qa/embed_examples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(HERE))
    from gold import CachedVectors

    from voc.qa import load_scripts
    from voc.qa.loader import SHIPPED_RULES
    from voc.qa.steps import training_sentences, write_vector_file

    book = load_scripts()
    texts = sorted({s for ts in book.training.values() for s in training_sentences(ts)})
    vec = CachedVectors()
    vectors = vec(texts)
    vec.save()
    out = SHIPPED_RULES / "examples" / "vectors.npz"
    write_vector_file(out, vec.name, texts, vectors)
    print(f"{len(texts)} sentence vectors ({vec.new} newly embedded) -> {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
