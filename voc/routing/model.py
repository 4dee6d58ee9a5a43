"""The routing model: a department classifier and a multi-label service-type classifier, trained from the
departments and service-types files plus every learned example (confirmations, corrections, route memory).

Texts are embedded by the caller's ``embed`` (the pipeline passes its store-cached embedder); the vectors of the
shipped training texts come with the package (``example_vectors.npz``) so a fresh install fits without embedding them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voc.routing.classifier import ClassifierOptions, Example, TextClassifier
from voc.routing.departments import Department
from voc.routing.service_type import ServiceTypeSpec, cue_matches

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_EXAMPLE_VECTORS",
    "LEARNED_WEIGHT",
    "Embed",
    "RoutingModel",
    "SeededEmbed",
    "department_examples",
    "fit_routing_model",
    "keyword_evidence",
    "keyword_trust",
    "matched_keywords",
    "service_cue_evidence",
    "service_type_examples",
    "training_fingerprints",
]

Embed = Callable[[Sequence[str]], np.ndarray]
DEFAULT_EXAMPLE_VECTORS = Path(__file__).with_name("example_vectors.npz")
# A person's correction counts this many shipped examples: 30 corrections of one confusion must outweigh the ~35
# shipped examples that pull the other way, without one stray correction moving a whole department.
LEARNED_WEIGHT = 3.0
KEYWORD_LOGIT = 2.0  # log-odds a department's keyword hits add (1 hit: half, 2: three quarters, ...)
CUE_LOGIT = 0.5  # log-odds per cue-phrase point a service type gets (capped at 2 points)
SERVICE_TYPE_THRESHOLD = 0.5  # a service type applies when its calibrated probability reaches this
OVERRULED_TRUST = 0.25  # a keyword contradicted 3:1 by labelled texts no longer speaks for its shipped examples
LEARNED_SOURCES = frozenset({"confirm", "correction", "memory", "manual"})


def matched_keywords(text: str, keywords: Sequence[str]) -> tuple[str, ...]:
    """Keywords found in ``text`` (lower-cased), without those contained in a longer match."""
    lowered = (text or "").lower()
    found = [k for k in keywords if k in lowered]
    # "包装破" and "包装" both matching is one piece of evidence, not two.
    return tuple(k for k in found if not any(k != o and k in o for o in found))


def keyword_evidence(texts: Sequence[str], departments: Sequence[Department], weight: float = KEYWORD_LOGIT,
                     trust: Mapping[str, Mapping[str, float]] | None = None) -> np.ndarray:
    """(n, departments) log-odds from keyword rules: ``weight * (1 - 0.5 ** hits)``, each hit counted at its
    ``trust`` (1 unless the examples contradict the keyword, see :func:`keyword_trust`)."""
    trust = trust or {}
    out = np.zeros((len(texts), len(departments)))
    for i, text in enumerate(texts):
        for j, dep in enumerate(departments):
            found = matched_keywords(text, dep.keywords)
            if found:
                hits = sum(trust.get(dep.id, {}).get(k, 1.0) for k in found)
                out[i, j] = weight * (1.0 - 0.5**hits)
    return out


def keyword_trust(departments: Sequence[Department], examples: Sequence[Example]) -> dict[str, dict[str, float]]:
    """How far each keyword rule can be trusted, from the customer texts that contain it: (agreeing weight + 2) /
    (all weight + 2). A rule people keep correcting (30 delivery-fee texts moved from logistics to finance)
    fades; a rule nobody contradicted keeps full force. Only keywords below 1 are returned."""
    texts = [ex for ex in examples if ex.source not in ("keyword", "description")]
    out: dict[str, dict[str, float]] = {}
    for dep in departments:
        for kw in dep.keywords:
            agree = disagree = 0.0
            for ex in texts:
                if kw in ex.text.lower():
                    if ex.labels and ex.labels[0] == dep.id:
                        agree += ex.weight
                    else:
                        disagree += ex.weight
            if disagree:
                out.setdefault(dep.id, {})[kw] = round((agree + 2.0) / (agree + disagree + 2.0), 4)
    return out


def service_cue_evidence(texts: Sequence[str], labels: Sequence[str], weight: float = CUE_LOGIT) -> np.ndarray:
    out = np.zeros((len(texts), len(labels)))
    for i, text in enumerate(texts):
        matches = cue_matches(text)
        for j, label in enumerate(labels):
            if label in matches:
                out[i, j] = weight * min(matches[label][0], 2)
    return out


def _fade_overruled(examples: Sequence[Example], departments: Sequence[Department],
                    trust: Mapping[str, Mapping[str, float]]) -> list[Example]:
    """Shipped examples that carry a keyword people have overruled (trust below :data:`OVERRULED_TRUST`) for their
    own department weigh that much less: the shipped file said "运费 is logistics", thirty corrections said
    otherwise, and the corrections win where the two disagree."""
    keywords = {d.id: d.keywords for d in departments}
    out = []
    for ex in examples:
        if ex.source in LEARNED_SOURCES or not ex.labels:
            out.append(ex)
            continue
        own = trust.get(ex.labels[0], {})
        low = [own[k] for k in matched_keywords(ex.text, keywords.get(ex.labels[0], ())) if own.get(k, 1.0) < OVERRULED_TRUST]
        out.append(Example(ex.text, ex.labels, ex.weight * min(low), ex.source) if low else ex)
    return out


def _learned_override(shipped: list[Example], learned: Sequence[Example]) -> list[Example]:
    """Shipped examples plus learned ones; a learned label for a text replaces the shipped label of that text,
    and of several learned labels for one text the latest (last in ``learned``) wins."""
    latest: dict[str, Example] = {}
    for ex in learned:
        latest[ex.text] = ex
    return [ex for ex in shipped if ex.text not in latest] + list(latest.values())


def department_examples(departments: Sequence[Department], learned: Sequence[Example] = ()) -> list[Example]:
    """Training examples: each department's name, description, keywords and examples, then learned ones."""
    ids = {d.id for d in departments}
    shipped: list[Example] = []
    seen: set[str] = set()
    for d in departments:
        texts = [(d.name_zh, "description"), (d.description, "description"), *((k, "keyword") for k in d.keywords),
                 *((e, "shipped") for e in d.examples)]
        for text, source in texts:
            if text and text not in seen:  # a text shared by two departments teaches nothing: first one keeps it
                seen.add(text)
                shipped.append(Example(text, (d.id,), 1.0, source))
    usable = [ex for ex in learned if ex.labels and ex.labels[0] in ids]
    if len(usable) < len(learned):
        log.warning("ignored %d learned examples for departments that are no longer configured", len(learned) - len(usable))
    return _learned_override(shipped, usable)


def service_type_examples(specs: Sequence[ServiceTypeSpec], learned: Sequence[Example] = ()) -> list[Example]:
    """Multi-label examples: a text listed under several service types carries all of them; learned sets replace."""
    labels: dict[str, list[str]] = {}
    for spec in specs:
        for text in spec.examples:
            labels.setdefault(text, []).append(spec.id)
    shipped = [Example(text, tuple(ls), 1.0, "shipped") for text, ls in labels.items()]
    known = {s.id for s in specs} | {"other"}
    usable = [Example(ex.text, tuple(lab for lab in ex.labels if lab != "other"), ex.weight, ex.source)
              for ex in learned if set(ex.labels) <= known]
    return _learned_override(shipped, usable)


class SeededEmbed:
    """``embed`` that first looks texts up in the shipped vectors of the training examples (same embedder only)."""

    def __init__(self, embed: Embed, embedder_name: str, seed_path: Path | None = DEFAULT_EXAMPLE_VECTORS) -> None:
        from voc.semantic import EmbeddingCache

        self._embed = embed
        self.embedder_name = embedder_name
        self._seed = EmbeddingCache(embedder_name, 0)
        if seed_path is not None and Path(seed_path).is_file():
            cache = EmbeddingCache.load(seed_path)
            if cache.embedder_name == embedder_name:
                self._seed = cache

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = sorted({t for t in texts if t not in self._seed})
        fresh = dict(zip(missing, np.asarray(self._embed(missing), dtype=np.float32), strict=True)) if missing else {}
        if not texts:
            return np.zeros((0, self._seed.dim), dtype=np.float32)
        return np.stack([fresh[t] if t in fresh else self._seed.get(t) for t in texts])


@dataclass
class RoutingModel:
    """Both fitted classifiers; ``departments.labels`` follows the departments file order."""

    departments: TextClassifier
    service_types: TextClassifier

    @property
    def embedder(self) -> str:
        return self.departments.embedder

    @property
    def keyword_trust(self) -> dict[str, dict[str, float]]:
        return dict(self.departments.rules.get("keyword_trust", {}))

    @property
    def fingerprint(self) -> str:
        return f"{self.departments.fingerprint}:{self.service_types.fingerprint}"

    def describe(self) -> dict[str, Any]:
        return {"departments": self.departments.describe(), "service_types": self.service_types.describe()}


def training_fingerprints(
    departments: Sequence[Department],
    service_specs: Sequence[ServiceTypeSpec],
    embedder_name: str,
    learned_departments: Sequence[Example] = (),
    learned_service_types: Sequence[Example] = (),
    options: ClassifierOptions | None = None,
) -> tuple[str, str]:
    """The fingerprints :func:`fit_routing_model` would give its two classifiers (to tell a stored model is current)."""
    extra = f"keywords {KEYWORD_LOGIT} cues {CUE_LOGIT}"
    dep_examples, _trust = _department_training_set(departments, learned_departments)
    return (
        TextClassifier.training_fingerprint(dep_examples, [d.id for d in departments], embedder_name, False, options,
                                            extra),
        TextClassifier.training_fingerprint(service_type_examples(service_specs, learned_service_types),
                                            _service_labels(service_specs), embedder_name, True,
                                            _service_options(options), extra),
    )


def _department_training_set(departments: Sequence[Department], learned: Sequence[Example]
                             ) -> tuple[list[Example], dict[str, dict[str, float]]]:
    examples = department_examples(departments, learned)
    trust = keyword_trust(departments, examples)
    return _fade_overruled(examples, departments, trust), trust


def _service_options(options: ClassifierOptions | None) -> ClassifierOptions:
    """Service types fit one sigmoid per label (7x the fits of departments): 3 calibration folds are enough for a
    Platt curve and halve the time of a refit."""
    import dataclasses

    return dataclasses.replace(options or ClassifierOptions(), calibration_folds=3)


def _service_labels(specs: Sequence[ServiceTypeSpec]) -> list[str]:
    return [s.id for s in specs]


def fit_routing_model(
    departments: Sequence[Department],
    service_specs: Sequence[ServiceTypeSpec],
    embed: Embed | None,
    embedder_name: str = "",
    learned_departments: Sequence[Example] = (),
    learned_service_types: Sequence[Example] = (),
    options: ClassifierOptions | None = None,
) -> RoutingModel:
    """Fit both classifiers (``embed`` None = character n-grams only)."""
    dep_examples, trust = _department_training_set(departments, learned_departments)
    st_examples = service_type_examples(service_specs, learned_service_types)
    texts = sorted({ex.text for ex in dep_examples} | {ex.text for ex in st_examples})
    vectors = dict(zip(texts, embed(texts), strict=True)) if embed is not None and texts else {}

    def vecs(examples: Sequence[Example]) -> np.ndarray | None:
        return np.stack([vectors[ex.text] for ex in examples]) if vectors else None

    if embed is None:
        embedder_name = ""
    extra = f"keywords {KEYWORD_LOGIT} cues {CUE_LOGIT}"
    dep_texts = [ex.text for ex in dep_examples]
    dep_model = TextClassifier.fit(
        dep_examples, [d.id for d in departments], vecs(dep_examples), embedder=embedder_name,
        evidence=keyword_evidence(dep_texts, departments, trust=trust), options=options, extra=extra)
    dep_model.rules = {"keyword_trust": trust}
    st_labels = _service_labels(service_specs)
    st_model = TextClassifier.fit(
        st_examples, st_labels, vecs(st_examples), embedder=embedder_name, multi_label=True,
        evidence=service_cue_evidence([ex.text for ex in st_examples], st_labels),
        options=_service_options(options), extra=extra)
    return RoutingModel(dep_model, st_model)
