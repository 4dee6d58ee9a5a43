"""Throughput of the text stage's per-text work (normalise + redact + segment) on real review sentences.

Reads the review corpora in ``<shared>/sentiment/*.tsv`` (research-only data, never copied into the repo),
splits them into sentences, repeats the list if needed to reach ``--n`` and times each step on its own
and the three chained (``voc.text.process_text``) in one process. Pin it to one core for the
one-core figure::

    taskset -c 0 .venv/bin/python bench/text/throughput.py            # 100,000 sentences
    taskset -c 0 .venv/bin/python bench/text/throughput.py --profile  # + cProfile of the chained run

Prints a table and one JSON line; ``--out F`` also writes the JSON; ``--digest`` prints a hash of every
output (normalised, redacted, tokens) so a speed-up can be shown to change nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.config import TextSettings  # noqa: E402
from voc.text import get_tokenizer, normalize, process_text, redact, segment  # noqa: E402

try:  # its memo is cleared so every timing starts cold (absent before the fast cut existed)
    from voc.text.segment import _precise  # noqa: E402
    clear_memo = _precise.cache_clear
except ImportError:  # pragma: no cover
    def clear_memo() -> None:
        pass

DEFAULT_SHARED = REPO.parent / "shared" / "data"
CORPORA = ("waimai_10k.tsv", "online_shopping_10cats_sample10k.tsv", "chnsenticorp_htl.tsv")
# A sentence ends at 。！？!?；; or a line break; the end mark stays with its sentence.
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")


def load_sentences(shared: Path) -> list[str]:
    out: list[str] = []
    for name in CORPORA:
        path = shared / "sentiment" / name
        if not path.is_file():
            raise SystemExit(f"{path}: not found (give --shared, the folder holding sentiment/)")
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                for m in _SENTENCE.finditer(row.get("text") or ""):
                    s = m.group(0).strip()
                    if len(s) >= 2:
                        out.append(s)
    return out


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def run(sentences: list[str], settings: TextSettings, profile: bool) -> dict:
    t0 = time.perf_counter()
    get_tokenizer(settings)  # dictionaries load once per process; not part of the per-text rate
    load_s = time.perf_counter() - t0
    process_text("繁體字 13812345678 测试", settings)  # load OpenCC and compile the regexes

    n = len(sentences)
    steps: dict[str, tuple[float, float]] = {}  # step -> (wall s, CPU s of this process)
    # the chained run first, in a fresh process: no memo warmed by the single-step runs below
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    clear_memo()
    # results are hashed, not kept: the pipeline does not hold 100k results either (and the GC would
    # bill their growing heap to the text work)
    chained_hash = hashlib.sha256()
    t, c = time.perf_counter(), time.process_time()
    for s in sentences:
        p = process_text(s, settings)
        chained_hash.update(f"{p.text}\x1f{' '.join(p.tokens)}\x1e".encode())
    chained_s, chained_cpu = time.perf_counter() - t, time.process_time() - c
    if prof is not None:
        prof.disable()
        import pstats

        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)

    t, c = time.perf_counter(), time.process_time()
    normed = [normalize(s) for s in sentences]
    steps["normalize"] = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    redacted = [redact(s, settings).text for s in normed]
    steps["redact"] = (time.perf_counter() - t, time.process_time() - c)
    clear_memo()
    t, c = time.perf_counter(), time.process_time()
    tokens = [segment(s, settings) for s in redacted]
    steps["segment"] = (time.perf_counter() - t, time.process_time() - c)

    steps_hash = hashlib.sha256()
    for b, c in zip(redacted, tokens, strict=True):
        steps_hash.update(f"{b}\x1f{' '.join(c)}\x1e".encode())
    assert steps_hash.digest() == chained_hash.digest(), "process_text differs from the three steps run one by one"
    digest = hashlib.sha256()
    for a, b, c in zip(normed, redacted, tokens, strict=True):
        digest.update(f"{a}\x1f{b}\x1f{' '.join(c)}\x1e".encode())
    changed = sum(a != b for a, b in zip(normed, redacted, strict=True))
    return {
        "sentences": n,
        "mean_chars": round(sum(map(len, sentences)) / n, 1),
        "dictionary_load_s": round(load_s, 2),
        "steps": {k: {"seconds": round(w, 2), "cpu_seconds": round(cpu, 2), "per_s": _rate(n, w),
                      "per_cpu_s": _rate(n, cpu), "us_per_text": round(w / n * 1e6, 1)}
                  for k, (w, cpu) in steps.items()},
        "sum_of_steps_per_s": _rate(n, sum(w for w, _ in steps.values())),
        "chained_seconds": round(chained_s, 2),
        "chained_cpu_seconds": round(chained_cpu, 2),
        "chained_per_s": _rate(n, chained_s),
        "chained_per_cpu_s": _rate(n, chained_cpu),
        "redacted_sentences": changed,
        "output_sha256": digest.hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="sentences to process (corpus repeated if shorter)")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder holding sentiment/*.tsv")
    ap.add_argument("--profile", action="store_true", help="cProfile the chained run (stats on stderr)")
    ap.add_argument("--digest", action="store_true", help="print the hash of every output")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)

    unique = load_sentences(args.shared)
    repeats = -(-args.n // len(unique))
    sentences = (unique * repeats)[: args.n]
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"{len(unique):,} unique sentences from {', '.join(CORPORA)}; "
          f"{'repeated x' + str(repeats) + ' to reach ' if repeats > 1 else 'using '}{len(sentences):,}; "
          f"CPUs allowed: {affinity}; load average before: {os.getloadavg()}", flush=True)
    result = run(sentences, TextSettings(), args.profile)
    result |= {"unique_sentences": len(unique), "repeats": repeats, "cpus_allowed": affinity,
               "load_avg_after": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
               "cpu": platform.processor() or platform.machine()}
    print("\n| step | wall s | CPU s | sentences/s (wall) | sentences/s (CPU) | µs/sentence (wall) |\n"
          "|---|---:|---:|---:|---:|---:|")
    for k, v in result["steps"].items():
        print(f"| {k} | {v['seconds']} | {v['cpu_seconds']} | {v['per_s']:,.0f} | {v['per_cpu_s']:,.0f} | "
              f"{v['us_per_text']} |")
    print(f"| **normalise + redact + segment (process_text)** | {result['chained_seconds']} | "
          f"{result['chained_cpu_seconds']} | {result['chained_per_s']:,.0f} | {result['chained_per_cpu_s']:,.0f} | "
          f"{round(result['chained_seconds'] / len(sentences) * 1e6, 1)} |")
    if not args.digest:
        result.pop("output_sha256")
    print(json.dumps(result, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
