"""30-day emerging-issue simulation: real complaints as daily background, one theme injected from day 20.

Background: negative online_shopping_10cats reviews of 9 categories (蒙牛 left out), drawn afresh every day
(without replacement within a day; the 4.8k texts recur across days, as repeat complaints do) at
``--daily`` complaints a day, Poisson-distributed, weekends at 85 %. From ``--inject-day`` on, negative
food-delivery (waimai) reviews are added at a share ``rate`` of the day's volume. Every night runs what
voc/pipeline.py's topics stage runs: ``update_topics`` on the night's complaints plus the unassigned ones of
the last ``pool_days`` nights, ``detect_emerging`` on per-topic daily counts (pooled documents count on their
own date) and ``detect_term_bursts`` on the night's tokens against the window's; a burst mostly inside a
flagged topic is folded into it, like the pipeline's findings. TopicSettings are the shipped defaults; e5
vectors (the default embedder) come from the shared cache (scale_data.py).

An alert is a theme alert when most of its documents tonight are injected ones, else a false alarm. Days 1..19
are run once per seed; the registry then branches for every rate (rate 0 is the control).

Run:  .venv/bin/python bench/topics/emerging_sim.py [--seeds 0,1,2] [--rates 0,0.01,0.02,0.05] [--daily 500]
      [--days 20 --inject-day 13 --theme heldout --sample 2500]   (the issue-17 stream: a new product line)
Writes bench/topics/results_emerging_sim.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scale_data import (  # bench/topics
    DATA,
    HERE,
    e5_vectors,
    machine_note,
    peak_rss_mib,
    shopping_neg,
    topic_settings,
    waimai_neg,
)

from voc.semantic.tokens import tokenize_many
from voc.topics import TopicDoc, TopicRegistry, daily_counts, detect_emerging, update_topics
from voc.topics.bursts import detect_term_bursts

log = logging.getLogger("emerging_sim")
START = dt.date(2026, 11, 1)
HELD_OUT = "蒙牛"
WEEKEND = 0.85


@dataclass
class World:
    """What the store holds between nights: per document its date, text, vector, injected flag and topic."""

    registry: TopicRegistry = field(default_factory=TopicRegistry)
    date: dict[str, dt.date] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    row: dict[str, int] = field(default_factory=dict)  # index into the vector table
    injected: set[str] = field(default_factory=set)
    topic: dict[str, str] = field(default_factory=dict)

    def copy(self) -> World:
        return World(self.registry, dict(self.date), dict(self.text), dict(self.row), set(self.injected),
                     dict(self.topic))


class Sim:
    def __init__(self, args: argparse.Namespace) -> None:
        shop = shopping_neg(args.data)
        rows = list(zip(shop.texts, shop.labels, strict=True))
        if args.sample:  # the seed-1 sample fit_eval.py uses (its e5 vectors are cached already)
            order = list(range(len(rows)))
            random.Random(1).shuffle(order)
            rows = [rows[i] for i in order[: args.sample]]
        self.bg_texts = [t for t, c in rows if c != HELD_OUT]
        # the new theme: food-delivery complaints, or the held-out product category's (a new product line)
        self.theme_texts = waimai_neg(args.data) if args.theme == "waimai" else [t for t, c in rows if c == HELD_OUT]
        texts = self.bg_texts + self.theme_texts
        self.vectors = e5_vectors(texts)
        self.index = {t: i for i, t in enumerate(texts)}
        self.tokens = dict(zip(texts, tokenize_many(texts), strict=True))
        self.settings = topic_settings(args.set)
        self.args = args

    def volume(self, seed: int, day: int) -> int:
        rng = np.random.default_rng(seed * 1000 + day + 500)
        date = START + dt.timedelta(days=day - 1)
        lam = self.args.daily * (WEEKEND if date.weekday() >= 5 else 1.0)
        return int(rng.poisson(lam))

    def night(self, world: World, seed: int, day: int, rate: float, theme_order: list[str]) -> dict:
        s = self.settings
        date = START + dt.timedelta(days=day - 1)
        vol = self.volume(seed, day)
        bg = random.Random(seed * 1000 + day + 500).sample(self.bg_texts, vol)
        n_inj = int(round(rate * vol)) if day >= self.args.inject_day else 0
        inj = [theme_order.pop() for _ in range(n_inj)]
        tonight = []
        for k, t in enumerate(bg + inj):
            iid = f"s{seed}-d{day:+03d}-{k:04d}"
            world.date[iid], world.text[iid], world.row[iid] = date, t, self.index[t]
            if k >= vol:
                world.injected.add(iid)
            tonight.append(iid)
        pool = [i for i, d in world.date.items()
                if date - dt.timedelta(days=s.pool_days) <= d < date and i not in world.topic] if s.pool_days else []
        ids = tonight + pool
        docs = [TopicDoc(i, world.text[i], world.date[i], self.vectors[world.row[i]]) for i in ids]
        t0 = time.perf_counter()
        res = update_topics(world.registry, docs, s, date, seed=42, merge_threshold=s.merge_threshold)
        t_update = time.perf_counter() - t0
        world.registry = reg = res.registry
        for a in res.assignments:
            world.topic[a.interaction_id] = a.topic_id
        since = date - dt.timedelta(days=s.window_days)
        rows = [(reg.resolve(tid), world.date[i]) for i, tid in world.topic.items() if since <= world.date[i] <= date]
        labels = {t.id: t.label for t in reg.topics}
        flagged = detect_emerging(daily_counts(rows), date, s, labels, res.examples_today)
        members: dict[str, list[str]] = {}
        for a in res.assignments:
            if world.date[a.interaction_id] == date:
                members.setdefault(a.topic_id, []).append(a.interaction_id)
        history: dict[dt.date, list[list[str]]] = {}
        for i, d in world.date.items():
            if since <= d < date:
                history.setdefault(d, []).append(self.tokens[world.text[i]])
        today = {i: self.tokens[world.text[i]] for i in tonight}
        bursts = detect_term_bursts(today, history, date, s)
        t_night = time.perf_counter() - t0

        def injected_share(doc_ids) -> float:
            doc_ids = list(doc_ids)
            return sum(i in world.injected for i in doc_ids) / max(len(doc_ids), 1)

        alerts = []
        flagged_ids = {e.topic_id for e in flagged}
        for e in flagged:
            share = injected_share(members.get(e.topic_id, []))
            alerts.append({"type": f"topic_{e.kind}", "topic": e.topic_id, "label": e.label, "count": e.count,
                           "z": e.z, "injected_share": round(share, 3), "theme": share > 0.5})
        topic_of = {i: tid for tid, ids_ in members.items() for i in ids_}
        for b in bursts:
            votes: dict[str, int] = {}
            for i in b.doc_ids:
                if i in topic_of:
                    votes[topic_of[i]] = votes.get(topic_of[i], 0) + 1
            main = max(sorted(votes), key=lambda k: votes[k]) if votes else None
            if main in flagged_ids and len(set(members[main]) & set(b.doc_ids)) * 2 >= b.count:
                continue  # folded into that topic's finding
            share = injected_share(b.doc_ids)
            alerts.append({"type": "terms", "terms": list(b.terms[:4]), "count": b.count, "z": b.z,
                           "injected_share": round(share, 3), "theme": share > 0.5})
        inj_tonight = [i for i in tonight if i in world.injected]
        return {"day": day, "date": date.isoformat(), "volume": vol, "injected": n_inj, "pool": len(pool),
                "injected_assigned": sum(i in world.topic for i in inj_tonight),
                "active_topics": len(reg.active), "new_topics": res.stats["new_topics"],
                "update_s": round(t_update, 2), "night_s": round(t_night, 2), "alerts": alerts}


def summarise(nights: list[dict], inject_day: int, first_scored_day: int) -> dict:
    scored = [n for n in nights if n["day"] >= first_scored_day]
    fa = sum(1 for n in scored for a in n["alerts"] if not a["theme"])
    days = len(scored)
    hits = [n["day"] for n in nights if n["day"] >= inject_day and any(a["theme"] for a in n["alerts"])]
    first = hits[0] if hits else None
    kinds = sorted({a["type"] for n in nights if n["day"] == first for a in n["alerts"] if a["theme"]}) if first else []
    return {"detected_day": first, "detected_by": kinds, "theme_alert_days": hits, "false_alarms": fa,
            "scored_days": days, "false_alarms_per_week": round(7 * fa / max(days, 1), 2),
            "false_alarms_days_before_inject": sum(1 for n in scored if n["day"] < inject_day
                                                   for a in n["alerts"] if not a["theme"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rates", default="0,0.01,0.02,0.05")
    ap.add_argument("--daily", type=int, default=500, help="mean complaints a weekday")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--inject-day", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=0, help="background-only nights before day 1 (not scored): "
                    "the registry as deployed after a backfill; 0 = day 1 is the first night it ever sees")
    ap.add_argument("--theme", choices=("waimai", "heldout"), default="waimai",
                    help=f"injected theme: negative food-delivery reviews, or the held-out category {HELD_OUT}")
    ap.add_argument("--sample", type=int, default=0, help="background from a seed-1 sample of this many shopping "
                    "negatives (0 = all 4,945)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a TopicSettings field")
    ap.add_argument("--out", default=str(HERE / "results_emerging_sim.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("voc").setLevel(logging.WARNING)
    t_all = time.perf_counter()
    sim = Sim(args)
    rates = [float(r) for r in args.rates.split(",")]
    first_scored = 4 if args.warmup < 3 else 1  # a registry's first 3 nights are cold start (no history)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        theme = list(sim.theme_texts)
        random.Random(seed).shuffle(theme)
        world = World()
        base_nights = []
        for day in range(1 - args.warmup, args.inject_day):
            base_nights.append(sim.night(world, seed, day, 0.0, []))
            log.info("seed %d day %d: %s", seed, day, {k: v for k, v in base_nights[-1].items() if k != "alerts"})
        for rate in rates:
            w = world.copy()
            order = list(theme)
            nights = [n for n in base_nights if n["day"] >= 1]
            for day in range(args.inject_day, args.days + 1):
                nights.append(sim.night(w, seed, day, rate, order))
                n = nights[-1]
                log.info("seed %d rate %.2f day %d: %d docs, %d injected (%d assigned), %d alerts (%d theme), %.1f s",
                         seed, rate, day, n["volume"] + n["injected"], n["injected"], n["injected_assigned"],
                         len(n["alerts"]), sum(a["theme"] for a in n["alerts"]), n["night_s"])
            summ = summarise(nights, args.inject_day, first_scored)
            log.info("seed %d rate %.2f: %s", seed, rate, summ)
            runs.append({"seed": seed, "rate": rate, **summ, "nights": nights})
    out = {"command": "bench/topics/emerging_sim.py " + " ".join(
               f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "data", "set"))
           + "".join(f" --set {o}" for o in args.set),
           "settings": sim.settings.model_dump(mode="json"), "warmup": args.warmup, "daily": args.daily, "weekend_factor": WEEKEND,
           "background": f"online_shopping_10cats negative, 9 categories (without {HELD_OUT}): {len(sim.bg_texts)} texts",
           "theme": f"{args.theme}: {len(sim.theme_texts)} texts", "first_scored_day": first_scored,
           "wall_s": round(time.perf_counter() - t_all, 1), "peak_rss_mib": round(peak_rss_mib()),
           "machine": machine_note(), "runs": runs}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print(f"| seed | rate | detected day | by | theme alert days | false alarms (days {first_scored}-{args.days}) "
          "| per week |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['seed']} | {r['rate']:.0%} | {r['detected_day'] or '-'} | {', '.join(r['detected_by']) or '-'} | "
              f"{len(r['theme_alert_days'])} | {r['false_alarms']} | {r['false_alarms_per_week']} |")
    print(f"wall {out['wall_s']} s, peak RSS {out['peak_rss_mib']} MiB; {out['machine']}")


if __name__ == "__main__":
    main()
