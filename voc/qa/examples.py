"""Training examples of the step model: a script's phrases, its inline ``examples`` / ``counter_examples`` and its
``example_files``, expanded and merged into labelled texts, plus reviewer decisions added at retraining.

Agent texts carry the step ids they say (and ``forbidden`` for a rude line); customer texts carry ``complaint``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from voc.qa.matcher import normalise
from voc.qa.schema import Script

FORBIDDEN_LABEL = "forbidden"
COMPLAINT_LABEL = "complaint"
# A counter-example says "looks like this step, is not": it weighs more than an ordinary negative.
COUNTER_WEIGHT = 3.0
FILLS_PER_TEMPLATE = 3
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelExamples(_Strict):
    examples: list[str] = Field(default_factory=list)
    counter_examples: list[str] = Field(default_factory=list)


class ExampleFile(_Strict):
    """One ``example_files`` entry of a script (see voc/qa/scripts/examples/)."""

    fills: dict[str, list[str]] = Field(default_factory=dict, description="values for {placeholders} in the lines")
    steps: dict[str, LabelExamples] = Field(default_factory=dict, description="step id -> examples / counter_examples")
    forbidden: LabelExamples = Field(default_factory=LabelExamples, description="rude lines / lines that are fine")
    other: list[str] = Field(default_factory=list, description="agent lines that are no step and no violation")
    complaint: LabelExamples = Field(default_factory=LabelExamples, description="customer turns: complaints / not")


@dataclass(frozen=True, slots=True)
class Example:
    """One training text: the labels it says and the labels it is a counter-example of."""

    text: str
    labels: frozenset[str] = frozenset()
    counter: frozenset[str] = frozenset()
    weight: float = 1.0  # reviewer examples weigh more than shipped ones
    source: str = "script"
    line: str = ""  # the line it was filled from: fillings of one line are not each other's neighbours


@dataclass(frozen=True)
class TrainingSet:
    """Labelled agent and customer texts for one script."""

    script: str
    agent_labels: tuple[str, ...]
    agent: tuple[Example, ...]
    customer: tuple[Example, ...]
    signature: str = field(default="")

    def with_reviewer_examples(self, rows: Iterable[tuple[str, str, bool]], weight: float = 2.0) -> TrainingSet:
        """Add reviewer decisions ``(rule_id, text, said)`` in decision order; ``said`` False makes the text a
        counter-example of the rule. A reviewer's label overrides the shipped one for the same text, and a later
        decision overrides an earlier one. ``forbidden_phrases`` maps to the ``forbidden`` label; other rules that
        the model does not know are ignored."""
        by_key = {normalise(e.text)[0]: e for e in self.agent}
        changed = False
        for rule_id, text, said in rows:
            label = FORBIDDEN_LABEL if rule_id == "forbidden_phrases" else rule_id
            key = normalise(text)[0]
            if label not in self.agent_labels or not key:
                continue
            old = by_key.get(key) or Example(text)
            labels = old.labels | {label} if said else old.labels - {label}
            counter = old.counter - {label} if said else old.counter | {label}
            by_key[key] = Example(old.text, frozenset(labels), frozenset(counter), max(old.weight, weight), "reviewer",
                                  old.line or text)
            changed = True
        if not changed:
            return self
        agent = tuple(by_key.values())
        return TrainingSet(self.script, self.agent_labels, agent, self.customer, _signature(agent, self.customer))


def agent_labels(script: Script) -> tuple[str, ...]:
    return tuple(s.id for s in script.steps) + ((FORBIDDEN_LABEL,) if script.forbidden is not None else ())


def unknown_steps(script: Script, data: ExampleFile) -> list[str]:
    known = {s.id for s in script.steps}
    return sorted(set(data.steps) - known)


def training_set(script: Script, files: Sequence[ExampleFile] = (), seed: int = 7) -> TrainingSet:
    """Phrases and examples of ``script`` and its example files, placeholders filled, merged by text."""
    fills: dict[str, list[str]] = {}
    for f in files:
        for k, v in f.fills.items():
            fills.setdefault(k, [])
            fills[k] += [x for x in v if x not in fills[k]]
    rng = random.Random(seed)
    agent: list[Example] = []
    customer: list[Example] = []

    def add(out: list[Example], lines: Iterable[str], labels: frozenset[str] = frozenset(),
            counter: frozenset[str] = frozenset()) -> None:
        for line in lines:
            for text in expand(line, fills, rng):
                out.append(Example(text, labels, counter, 1.0, line=line))

    for step in script.steps:
        add(agent, step.phrases, frozenset({step.id}))
        add(agent, step.examples, frozenset({step.id}))
        add(agent, step.counter_examples, counter=frozenset({step.id}))
    if script.forbidden is not None:
        add(agent, [e.text for e in script.forbidden.entries], frozenset({FORBIDDEN_LABEL}))
        add(agent, script.forbidden.examples, frozenset({FORBIDDEN_LABEL}))
        add(agent, script.forbidden.counter_examples, counter=frozenset({FORBIDDEN_LABEL}))
    known = {s.id for s in script.steps}
    for f in files:
        for sid, ex in f.steps.items():
            if sid in known:
                add(agent, ex.examples, frozenset({sid}))
                add(agent, ex.counter_examples, counter=frozenset({sid}))
        if script.forbidden is not None:
            add(agent, f.forbidden.examples, frozenset({FORBIDDEN_LABEL}))
            add(agent, f.forbidden.counter_examples, counter=frozenset({FORBIDDEN_LABEL}))
        add(agent, f.other)
        add(customer, f.complaint.examples, frozenset({COMPLAINT_LABEL}))
        add(customer, f.complaint.counter_examples, counter=frozenset({COMPLAINT_LABEL}))
    merged_agent, merged_customer = _merge(agent), _merge(customer)
    return TrainingSet(script.name, agent_labels(script), merged_agent, merged_customer,
                       _signature(merged_agent, merged_customer))


def expand(line: str, fills: Mapping[str, Sequence[str]], rng: random.Random, n: int = FILLS_PER_TEMPLATE) -> list[str]:
    """A line with {placeholders}: ``n`` different fillings; a plain line: itself."""
    names = _PLACEHOLDER.findall(line)
    if not names:
        return [line]
    missing = sorted({k for k in names if not fills.get(k)})
    if missing:
        raise ValueError(f"example {line!r}: no fills for {missing}; add them under 'fills:' in an example file")
    out: list[str] = []
    for _ in range(n * 3):
        text = _PLACEHOLDER.sub(lambda m: rng.choice(list(fills[m.group(1)])), line)
        if text not in out:
            out.append(text)
        if len(out) == n:
            break
    return out


def _merge(items: Iterable[Example]) -> tuple[Example, ...]:
    """One example per normalised text: labels and counters united (a label wins over being its counter)."""
    by_key: dict[str, Example] = {}
    for e in items:
        key = normalise(e.text)[0]
        if not key:
            continue
        old = by_key.get(key)
        if old is None:
            by_key[key] = e
            continue
        labels = old.labels | e.labels
        by_key[key] = Example(old.text, labels, (old.counter | e.counter) - labels, max(old.weight, e.weight),
                              e.source if e.source == "reviewer" else old.source, old.line)
    return tuple(by_key.values())


def _signature(agent: Sequence[Example], customer: Sequence[Example]) -> str:
    h = hashlib.sha1()
    for part in (agent, customer):
        for e in part:
            h.update(f"{e.text}\t{sorted(e.labels)}\t{sorted(e.counter)}\t{e.weight}\n".encode())
        h.update(b"--\n")
    return h.hexdigest()[:16]
