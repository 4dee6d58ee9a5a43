"""QA matching benchmark: exact vs pinyin-fuzzy vs semantic on real Whisper output, false positives, MobileCS scoring.

Transcribes the clips with transcribe_clips.py first when its /tmp cache is missing. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import time
from collections import Counter
from pathlib import Path

from voc.config import QASettings
from voc.qa import (
    ExactMatcher,
    PhraseSet,
    PinyinMatcher,
    SemanticMatcher,
    load_scripts,
    score_call,
)
from voc.qa.scorer import find
from voc.records import Role, SentimentScore, Utterance
from voc.semantic import qa_embedder as e5_embedder

HERE = Path(__file__).resolve().parent
CLAUSE = re.compile(r"[^，。！？；,.!?;、\s]+")


def t2s(texts: list[str]) -> list[str]:
    from opencc import OpenCC  # the text stage does this before QA; Whisper base often answers in Traditional

    cc = OpenCC("t2s")
    return [cc.convert(t) for t in texts]


def chains(script) -> dict[str, list]:
    m = script.matching
    pin = PinyinMatcher(m.pinyin_threshold, m.min_fuzzy_chars)
    sem = SemanticMatcher(e5_embedder(), m.semantic_threshold)
    return {"exact": [ExactMatcher()], "+pinyin": [ExactMatcher(), pin], "+semantic": [ExactMatcher(), pin, sem]}


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f} %)" if b else "0/0"


def customer_turns(data: Path) -> list[str]:
    out = []
    for line in (data / "dialog" / "mobilecs_example.jsonl").read_text(encoding="utf-8").splitlines():
        out += [t["text"] for t in json.loads(line)["turns"] if t["role"] == "customer"]
    return out


def clause_retrieval(clips: list[dict], negatives: list[str], chain_map: dict) -> list[str]:
    """Each reference clause (>= 4 chars) of an agent line is a 'script variant': is it found in its clip's ASR?"""
    rows = ["| clips | clauses | how | found in own ASR hypothesis | false positives on MobileCS customer turns (clause x turn pairs) |",
            "|---|---|---|---|---|"]
    for subset in ("magicdata_cs_16k", "tel8k_sim"):
        cs = [c for c in clips if c["file"].startswith(subset)]
        pairs = [(cl, c["hyp"]) for c in cs for cl in CLAUSE.findall(c["ref"]) if len(cl) >= 4]
        for how, chain in chain_map.items():
            found = sum(1 for cl, hyp in pairs if find([hyp], PhraseSet((cl,)), chain)[0] is not None)
            fp = sum(1 for cl, _ in pairs for m in find(negatives, PhraseSet((cl,)), chain) if m is not None)
            rows.append(f"| {subset} ({len(cs)}) | {len(pairs)} | {how} | {pct(found, len(pairs))} | "
                        f"{pct(fp, len(pairs) * len(negatives))} |")
    return rows


def script_phrases_in_asr(clips: list[dict], scripts, chain_maps: dict) -> list[str]:
    """Script phrase variants that occur verbatim in a reference line: are they still found in the ASR output?"""
    expected = []
    for c in clips:
        for s in scripts:
            rules = [(st.id, st.phrase_set) for st in s.steps] + [("hold", s.silence.phrase_set)]
            for rid, ps in rules:
                if ExactMatcher().match([c["ref"]], PhraseSet(ps.variants))[0]:
                    expected.append((c, s.name, rid, PhraseSet(ps.variants)))
    rows = ["| how | expected step hits found in ASR output |", "|---|---|"]
    for how in ("exact", "+pinyin", "+semantic"):
        found = sum(1 for c, sn, _, ps in expected if find([c["hyp"]], ps, chain_maps[sn][how])[0] is not None)
        rows.append(f"| {how} | {pct(found, len(expected))} |")
    detail = sorted({f"{c['file'].split('/')[0]}:{rid}" for c, _, rid, _ in expected})
    return rows + ["", f"Expected hits: {len(expected)} ({', '.join(detail)})"]


def homophone_noise(texts: list[str], rate: float, seed: int, vocab: set[str]) -> list[str]:
    """Replace a share of Han characters with a same-toneless-pinyin character (simulated ASR homophone error)."""
    from pypinyin import Style, lazy_pinyin

    by_py: dict[str, list[str]] = {}
    for ch in sorted(vocab):
        if "\u4e00" <= ch <= "\u9fff":
            by_py.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    rng = random.Random(seed)
    out = []
    for t in texts:
        chars = list(t)
        for i, ch in enumerate(chars):
            if "\u4e00" <= ch <= "\u9fff" and rng.random() < rate:
                alts = [a for a in by_py.get(lazy_pinyin(ch, style=Style.NORMAL)[0], []) if a != ch]
                if alts:
                    chars[i] = rng.choice(alts)
        out.append("".join(chars))
    return out


def own_lines(script, chain_map: dict, negatives: list[str], vocab: set[str]) -> list[str]:
    with open(HERE / "script_lines.tsv", encoding="utf-8") as f:
        lines = [(r[0], r[1]) for r in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]]
    steps = {s.id: s for s in script.steps}
    rows = ["| text | how | lines whose step is found | customer turns where any step phrase fires |",
            "|---|---|---|---|"]
    for label, rate in (("clean", 0.0), ("15 % homophones", 0.15), ("30 % homophones", 0.30)):
        texts = homophone_noise([t for _, t in lines], rate, 7, vocab)
        for how, chain in chain_map.items():
            found = sum(1 for (sid, _), t in zip(lines, texts, strict=True)
                        if find([t], steps[sid].phrase_set, chain)[0] is not None)
            fired = 0
            if label == "clean":
                hits = [find(negatives, s.phrase_set, chain) for s in script.steps]
                fired = sum(1 for k in range(len(negatives)) if any(h[k] for h in hits))
            fp = pct(fired, len(negatives)) if label == "clean" else "-"
            rows.append(f"| {label} | {how} | {pct(found, len(lines))} | {fp} |")
    return rows


def mobilecs_table(data: Path, script, semantic: bool) -> list[str]:
    from snownlp import SnowNLP

    dialogs = [json.loads(x) for x in (data / "dialog" / "mobilecs_example.jsonl").read_text(encoding="utf-8").splitlines()]
    ids = [s.id for s in script.steps] + ["step_order", "forbidden_phrases"]
    rows = ["| dialogue | turns | min customer sentiment | " + " | ".join(ids) + " | score | review |",
            "|---" * (len(ids) + 5) + "|"]
    total: Counter[str] = Counter()
    t0 = time.perf_counter()
    for d in dialogs:
        utts = [Utterance(d["id"], i, Role(t["role"]), 0.0, 0.0, t["text"]) for i, t in enumerate(d["turns"])]
        # SnowNLP is only a baseline scorer; mapped to [-1, 1] like the sentiment stage's scores.
        sents = [SentimentScore(d["id"], u.idx, 2 * SnowNLP(u.text).sentiments - 1, "") for u in utts if u.role == Role.CUSTOMER]
        r = score_call(utts, None, sents, script, QASettings(), seed=42, embedder=e5_embedder() if semantic else None)
        cells = []
        for rid in ids:
            o = next(o for o in r.outcomes if o.rule_id == rid)
            mark = "n/a" if o.weight == 0 else ("pass" if o.passed else "FAIL")
            if o.passed and o.evidence:
                mark += f" ({o.evidence[0]['how']})"
            total[f"{rid}:{'n/a' if o.weight == 0 else o.passed}"] += 1
            cells.append(mark)
        rows.append(f"| {d['id'][:8]} | {len(utts)} | {min(s.score for s in sents):.2f} | " + " | ".join(cells)
                    + f" | {r.score:.0f} | {', '.join(r.review_reasons) or '-'} |")
    ms = 1000 * (time.perf_counter() - t0) / len(dialogs)
    passed = " | ".join(f"{total[f'{rid}:True']}/{10 - total[f'{rid}:n/a']}" for rid in ids)
    rows.append(f"| **passed** | | | {passed} | | |")
    return rows + ["", f"Scoring time incl. SnowNLP: {ms:.0f} ms per dialogue (semantic={'on' if semantic else 'off'})."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--asr", type=Path, default=Path("/tmp/voc-qa-bench/asr.json"))
    args = ap.parse_args()

    if not args.asr.is_file():
        import subprocess
        import sys

        subprocess.run([sys.executable, str(HERE / "transcribe_clips.py"), "--data", str(args.data), "--out", str(args.asr)],
                       check=True)
    book = load_scripts()
    retail, telecom = book.scripts["retail_after_sales"], book.scripts["telecom_billing"]
    asr = json.loads(args.asr.read_text(encoding="utf-8"))
    clips = asr["clips"]
    for c, h in zip(clips, t2s([c["hyp"] for c in clips]), strict=True):
        c["hyp"] = h
    negatives = customer_turns(args.data)
    vocab = set("".join(c["ref"] + c["hyp"] for c in clips)) | set("".join(negatives))
    vocab |= set((HERE / "script_lines.tsv").read_text(encoding="utf-8"))
    maps = {"retail_after_sales": chains(retail), "telecom_billing": chains(telecom)}

    print(f"ASR: {asr['model']} ({len(clips)} clips, {asr['seconds']} s to transcribe)\n")
    print("## 1. Agent-line clauses vs real Whisper-base output\n")
    print("\n".join(clause_retrieval(clips, negatives, maps["retail_after_sales"])))
    print("\n## 2. Script phrases present in the MagicData/tel8k reference lines\n")
    print("\n".join(script_phrases_in_asr(clips, [retail, telecom], maps)))
    print("\n## 3. Own script lines (retail_after_sales), clean and with simulated homophone errors\n")
    print("\n".join(own_lines(retail, maps["retail_after_sales"], negatives, vocab)))
    for semantic in (False, True):
        print(f"\n## 4{'b' if semantic else 'a'}. MobileCS dialogues scored with telecom_billing (semantic {'on' if semantic else 'off'})\n")
        print("\n".join(mobilecs_table(args.data, telecom, semantic)))


if __name__ == "__main__":
    main()
