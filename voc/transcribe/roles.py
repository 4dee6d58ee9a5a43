"""Do the channel roles of a stereo call look swapped? Agents open and close with set phrases (greeting with a
staff number, "what can I help you with", thanks for calling); when those sit on the customer's side, the recording's
agent channel is probably the other one."""

from __future__ import annotations

from collections.abc import Sequence

from voc.records import Role, Utterance

# Phrases an agent says and a customer rarely does, kept short so that ASR homophones around them (有什么可疑帮您)
# still match; a call is judged by the balance of hits on the two channels, never by one phrase. Whisper base on
# 8 kHz audio keeps the short ones ("灵豪，还专制调客服，请问有任何可疑犯灵" for 您好，海川智家客服，请问有什么可以帮您).
AGENT_CUES = ("工号", "为您服务", "有什么可", "客服", "请问有", "请问您", "帮您", "请您提供", "核实", "先生您好",
              "女士您好", "很抱歉", "给您带来", "感谢您的来电", "感谢来电", "稍等", "还有其他")
MIN_CUES = 2  # cue hits on the customer's side before we say anything


def role_swap_warning(utterances: Sequence[Utterance], agent_channel: int | None) -> str | None:
    """A warning when agent phrases are on the customer's channel (and more of them than on the agent's), else None.

    ``agent_channel``: the channel the call was split with (None: mono, nothing to check)."""
    if agent_channel is None:
        return None
    hits = {Role.AGENT: 0, Role.CUSTOMER: 0}
    for u in utterances:
        if u.role in hits:
            hits[u.role] += sum(cue in u.text for cue in AGENT_CUES)
    if hits[Role.CUSTOMER] >= MIN_CUES and hits[Role.CUSTOMER] > hits[Role.AGENT]:
        return (f"agent phrases are on the customer's channel ({hits[Role.CUSTOMER]} vs {hits[Role.AGENT]} on channel "
                f"{agent_channel}): the roles look swapped; try --agent-channel {1 - agent_channel} (or set "
                "agent_channel in calls.csv / asr.default_agent_channel)")
    return None
