"""What counts as a complaint, decided once for the nightly topics stage and for ``voc watch``."""

from __future__ import annotations

from collections.abc import Sequence

from voc.config import Settings
from voc.records import Interaction, Utterance

COMPLAINT_CHANNELS = ("call", "chat", "ticket", "email", "other")  # customer-initiated contacts


def complaint_text(item: Interaction, utterances: Sequence[Utterance] = ()) -> str:
    """The text a complaint is about: a call's customer side, a text's body."""
    if item.channel.value == "call":
        return "。".join(u.text for u in utterances if u.role.value == "customer")
    return item.text or ""


def is_complaint(item: Interaction, text: str, score: float, settings: Settings) -> bool:
    """Contacts the customer started (call, chat, ticket, e-mail) count unless they read as praise (sentiment >=
    ``sentiment.positive_threshold``); reviews count only when negative (below ``topics.review_max_score``). Texts
    shorter than ``topics.min_chars`` never count."""
    limit = settings.topics.review_max_score if item.channel.value not in COMPLAINT_CHANNELS \
        else settings.sentiment.positive_threshold
    return len(text.strip()) >= settings.topics.min_chars and score < limit
