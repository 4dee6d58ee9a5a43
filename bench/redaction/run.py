"""Measure voc.text.redact on the generated set (per type, dev vs held-out) and on real shared data.

Usage: .venv/bin/python bench/redaction/run.py [--n 3000] [--seed 20240305] [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402

from voc.text import normalize, redact  # noqa: E402

TYPES = ("PHONE", "ID", "CARD", "EMAIL", "NAME", "ADDR")


def overlaps(a, b) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def evaluate(rows: list[dict]) -> dict:
    planted = defaultdict(Counter)  # split -> type -> n
    found = defaultdict(Counter)
    predicted = defaultdict(Counter)
    correct = defaultdict(Counter)
    keep_total, keep_hit = defaultdict(Counter), defaultdict(Counter)
    misses = []
    for row in rows:
        split = row["split"]
        pred = [{"type": s.type, "start": s.start, "end": s.end} for s in redact(row["text"]).spans]
        for g in row["spans"]:
            planted[split][g["type"]] += 1
            if any(p["type"] == g["type"] and p["start"] <= g["start"] and p["end"] >= g["end"] for p in pred):
                found[split][g["type"]] += 1
            else:
                misses.append((split, g["type"], row["template"]))
        for p in pred:
            predicted[split][p["type"]] += 1
            if any(g["type"] == p["type"] and overlaps(g, p) for g in row["spans"]) and not any(
                overlaps(k, p) for k in row["keep"]
            ):
                correct[split][p["type"]] += 1
        for k in row["keep"]:
            keep_total[split][k["what"]] += 1
            if any(overlaps(k, p) for p in pred):
                keep_hit[split][k["what"]] += 1
    return {"planted": planted, "found": found, "predicted": predicted, "correct": correct,
            "keep_total": keep_total, "keep_hit": keep_hit, "misses": misses}


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "–"


def table(res: dict) -> str:
    lines = ["| split | type | planted | recall | predicted | precision |", "|---|---|---:|---:|---:|---:|"]
    for split in ("dev", "heldout", "blind", "negative"):
        for t in TYPES:
            n, p = res["planted"][split][t], res["predicted"][split][t]
            if n or p:
                lines.append(f"| {split} | {t} | {n} | {ratio(res['found'][split][t], n)} | {p} | "
                             f"{ratio(res['correct'][split][t], p)} |")
    lines += ["", "| split | kept value | count | wrongly redacted | rate |", "|---|---|---:|---:|---:|"]
    for split in ("dev", "heldout", "blind", "negative"):
        for what, n in sorted(res["keep_total"][split].items()):
            hit = res["keep_hit"][split][what]
            lines.append(f"| {split} | {what} | {n} | {hit} | {ratio(hit, n)} |")
    return "\n".join(lines)


def real_data(shared: Path) -> str:
    out = []
    dialog = shared / "dialog" / "mobilecs_example.jsonl"
    if dialog.is_file():
        turns = []
        with dialog.open(encoding="utf-8") as f:
            for line in f:
                turns += [t["text"] for t in json.loads(line)["turns"]]
        changed = Counter()
        n_changed = 0
        for t in turns:
            r = redact(normalize(t))
            if r.spans:
                n_changed += 1
                changed.update(r.counts)
        out.append(f"| MobileCS dialogues (turns) | {len(turns)} | {n_changed} | {dict(changed)} |")
    ccks = shared / "intent" / "ccks2021_telecom_kgqa_train.tsv"
    if ccks.is_file():
        with ccks.open(encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
        changed = Counter()
        n_changed = 0
        for r in rows:
            red = redact(normalize(r[0]))
            if red.spans:
                n_changed += 1
                changed.update(red.counts)
        out.append(f"| CCKS2021 telecom queries | {len(rows)} | {n_changed} | {dict(changed)} |")
    if not out:
        return "(shared data not found)"
    return "\n".join(["| corpus | texts | changed | placeholders |", "|---|---:|---:|---|", *out])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20240305)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    ap.add_argument("--show-misses", type=int, default=0)
    args = ap.parse_args()
    rows = generate(args.n, args.seed)
    t0 = time.perf_counter()
    res = evaluate(rows)
    secs = time.perf_counter() - t0
    print(f"generated rows: {len(rows)} (seed {args.seed}); redaction time {secs:.2f} s "
          f"({1000 * secs / len(rows):.2f} ms/text)\n")
    print(table(res))
    print()
    print(real_data(args.shared))
    if args.show_misses:
        print("\nmisses (split, type, template):")
        for m, c in Counter(res["misses"]).most_common(args.show_misses):
            print(c, m)


if __name__ == "__main__":
    main()
