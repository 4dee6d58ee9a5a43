"""Repeat-contact links on hand-written customer histories (repeat_histories.yaml): precision and recall of the
links voc.customers.find_repeats makes, the text-similarity threshold swept on the calibration customers, and the
chains of the evaluation customers with what linked them.

    OMP_NUM_THREADS=1 .venv/bin/python bench/routing/eval_repeats.py
Service types come from the routing model, vectors from the routing embedder centred as voc.pipeline.customers does.
Run with PYTHONPATH=/tmp/before (see eval_routing.py) for the matching before this change (same topic or same
service type; rule-based service types).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from voc.customers import Contact, find_repeats, repeat_chains
from voc.routing import classify_service_types

HERE = Path(__file__).resolve().parent
DAY0 = dt.date(2026, 11, 1)


def load() -> tuple[int, list[dict], list[Contact]]:
    doc = yaml.safe_load((HERE / "repeat_histories.yaml").read_text(encoding="utf-8"))
    rows, contacts = [], []
    texts = [c["text"] for cust in doc["customers"] for c in cust["contacts"]]
    kinds = classify_service_types(texts)
    k = 0
    for cust in doc["customers"]:
        for n, c in enumerate(cust["contacts"], start=1):
            iid = f"{cust['id']}-{n}"
            rows.append({"id": iid, "customer": cust["id"], "split": cust["split"], "issue": c["issue"],
                         "day": c["day"], "text": c["text"], "service_type": kinds[k].label})
            contacts.append(Contact(interaction_id=iid, customer_id=cust["id"], channel="chat",
                                    business_date=DAY0 + dt.timedelta(days=c["day"] - 1),
                                    service_type=kinds[k].label, topic_id=c.get("topic"),
                                    attributes={str(a): str(v) for a, v in (c.get("attributes") or {}).items()},
                                    excerpt=c["text"]))
            k += 1
    return int(doc.get("window_days", 7)), rows, contacts


def vectors_for(rows: list[dict]) -> dict[str, np.ndarray]:
    from voc.pipeline.routing import reference_mean
    from voc.routing import default_embed

    embed, name = default_embed("e5")
    matrix = np.asarray(embed([r["text"] for r in rows]), dtype=np.float32) - reference_mean(name)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return {r["id"]: v for r, v in zip(rows, matrix, strict=True)}


def score(rows: list[dict], links: dict, window: int, split: str | None) -> dict:
    """Link precision: links whose earlier contact has the same issue; recall: contacts that have an earlier
    same-issue contact of the customer within the window and got a correct link."""
    by_id = {r["id"]: r for r in rows}
    keep = [r for r in rows if split is None or r["split"] == split]
    predicted = [links[r["id"]] for r in keep if r["id"] in links]
    correct = sum(by_id[lk.previous]["issue"] == by_id[lk.contact]["issue"] for lk in predicted)
    due = [r for r in keep if any(o["customer"] == r["customer"] and o["issue"] == r["issue"]
                                  and 0 <= r["day"] - o["day"] <= window and o["id"] < r["id"] for o in rows)]
    found = sum(1 for r in due if r["id"] in links and by_id[links[r["id"]].previous]["issue"] == r["issue"])
    p = correct / len(predicted) if predicted else 1.0
    rec = found / len(due) if due else 1.0
    return {"links": len(predicted), "correct": correct, "due": len(due), "precision": round(p, 3),
            "recall": round(rec, 3), "f1": round(2 * p * rec / (p + rec), 3) if p + rec else 0.0}


def main() -> int:
    window, rows, contacts = load()
    legacy = "vectors" not in inspect.signature(find_repeats).parameters
    out: dict = {"legacy": legacy}
    if legacy:
        links = find_repeats(contacts, window)
        out |= {s or "all": score(rows, links, window, s) for s in ("calibration", "evaluation", None)}
    else:
        vectors = vectors_for(rows)
        sweep = {}
        for threshold in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            links = find_repeats(contacts, window, vectors=vectors, text_similarity=threshold)
            sweep[str(threshold)] = score(rows, links, window, "calibration")
        out["calibration_sweep"] = sweep
        from voc.config import CustomerSettings

        chosen = CustomerSettings().repeat_text_similarity
        links = find_repeats(contacts, window, vectors=vectors, text_similarity=chosen)
        out["threshold"] = chosen
        out |= {s or "all": score(rows, links, window, s) for s in ("calibration", "evaluation", None)}
        out["without_vectors"] = score(rows, find_repeats(contacts, window), window, None)
        out["chains"] = [ch.reason for ch in repeat_chains(contacts, links)]
        out["wrong_links"] = [f"{lk.contact} -> {lk.previous} ({lk.match})" for lk in links.values()
                              if next(r for r in rows if r["id"] == lk.previous)["issue"]
                              != next(r for r in rows if r["id"] == lk.contact)["issue"]]
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
