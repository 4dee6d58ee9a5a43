"""Call metrics (talk time per role, silence, overtalk, speech rate) from utterance timings.

Pure functions over :class:`~voc.records.Utterance`, so they work the same for Whisper output and for
transcripts made elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from voc.records import CallMetrics, Role, Utterance

Interval = tuple[float, float]

# Words closer than this belong to one stretch of speech; longer gaps inside a Whisper segment are
# pauses, which must not count as talk (segment bounds include VAD padding and pauses).
WORD_GAP_S = 0.5


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals, sorted, overlapping/touching ones merged; empty ones dropped."""
    merged: list[list[float]] = []
    for start, end in sorted((s, e) for s, e in intervals if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def intersect_intervals(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two merged interval lists (two-pointer sweep)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def speech_intervals(utterance: Utterance, word_gap_s: float = WORD_GAP_S) -> list[Interval]:
    """Where the speaker actually talks: word spans joined across short gaps, else the utterance span."""
    if not utterance.words:
        return [(float(utterance.start), float(utterance.end))]
    spans: list[Interval] = []
    for w in sorted(utterance.words, key=lambda w: w.start):
        if spans and w.start - spans[-1][1] <= word_gap_s:
            spans[-1] = (spans[-1][0], max(spans[-1][1], float(w.end)))
        else:
            spans.append((float(w.start), float(w.end)))
    return spans


def _total(intervals: Sequence[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def _chars(text: str) -> int:
    # Speech rate counts spoken characters: letters and digits, not punctuation or spaces.
    return sum(1 for ch in text if ch.isalnum())


def compute_call_metrics(
    interaction_id: str, utterances: Sequence[Utterance], duration_s: float | None = None
) -> CallMetrics:
    """Metrics for one call from its utterances.

    - talk time per role = length of the union of that role's speech intervals (words when present);
    - silence = call duration minus the union of everybody's speech (leading/trailing silence and hold
      included); ``longest_silence_s`` = longest such gap;
    - overtalk = agent and customer speech intervals overlapping: total time and number of overlaps;
    - speech rate = characters per minute of the speaker's own talk time (None without talk);
    - ``agent_talk_ratio`` = agent / (agent + customer), 0 when neither is known (mono: role unknown).
    ``duration_s`` defaults to the last utterance end.
    """
    by_role: dict[Role, list[Interval]] = {role: [] for role in Role}
    chars: dict[Role, int] = {role: 0 for role in Role}
    for u in utterances:
        by_role[Role(u.role)].extend(speech_intervals(u))
        chars[Role(u.role)] += _chars(u.text)
    merged = {role: merge_intervals(iv) for role, iv in by_role.items()}
    everyone = merge_intervals(iv for ivs in merged.values() for iv in ivs)
    last_end = max((e for _, e in everyone), default=0.0)
    duration = max(float(duration_s) if duration_s is not None else 0.0, last_end)

    gaps: list[float] = []
    cursor = 0.0
    for s, e in everyone:
        if s > cursor:
            gaps.append(s - cursor)
        cursor = max(cursor, e)
    if duration > cursor:
        gaps.append(duration - cursor)

    agent_s = _total(merged[Role.AGENT])
    customer_s = _total(merged[Role.CUSTOMER])
    overlaps = intersect_intervals(merged[Role.AGENT], merged[Role.CUSTOMER])

    def rate(role: Role, talk: float) -> float | None:
        return round(chars[role] / (talk / 60.0), 1) if talk > 0 else None

    return CallMetrics(
        interaction_id=interaction_id,
        duration_s=round(duration, 3),
        agent_talk_s=round(agent_s, 3),
        customer_talk_s=round(customer_s, 3),
        silence_s=round(max(duration - _total(everyone), 0.0), 3),
        longest_silence_s=round(max(gaps, default=0.0), 3),
        overtalk_s=round(_total(overlaps), 3),
        overtalk_count=len(overlaps),
        agent_speech_rate_cpm=rate(Role.AGENT, agent_s),
        customer_speech_rate_cpm=rate(Role.CUSTOMER, customer_s),
        agent_talk_ratio=round(agent_s / (agent_s + customer_s), 4) if agent_s + customer_s > 0 else 0.0,
    )
