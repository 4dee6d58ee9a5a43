"""Swapped stereo roles are noticed from the agent's set phrases (voc.transcribe.roles)."""

from voc.records import Role, Utterance
from voc.transcribe import role_swap_warning


def _u(idx: int, role: Role, text: str) -> Utterance:
    return Utterance(interaction_id="c", idx=idx, role=role, start=float(idx), end=float(idx) + 1, text=text)


def test_agent_phrases_on_the_customer_channel_warn_with_the_other_channel():
    swapped = [_u(0, Role.CUSTOMER, "您好，工号1023，很高兴为您服务"), _u(1, Role.AGENT, "我家洗衣机漏水了"),
               _u(2, Role.CUSTOMER, "请问还有什么可以帮您，感谢您的来电")]
    warning = role_swap_warning(swapped, agent_channel=0)
    assert warning is not None and "--agent-channel 1" in warning


def test_a_normal_call_and_a_mono_call_do_not_warn():
    normal = [_u(0, Role.AGENT, "您好，工号1023，很高兴为您服务"), _u(1, Role.CUSTOMER, "我家洗衣机漏水了"),
              _u(2, Role.AGENT, "感谢您的来电")]
    assert role_swap_warning(normal, agent_channel=1) is None
    assert role_swap_warning([_u(0, Role.UNKNOWN, "工号 很高兴为您服务 感谢您的来电")], agent_channel=None) is None


def test_one_stray_phrase_is_not_enough():
    once = [_u(0, Role.CUSTOMER, "你们客服中心在哪"), _u(1, Role.AGENT, "在杭州")]
    assert role_swap_warning(once, agent_channel=0) is None


def test_swapped_roles_warned_on_a_misheard_8k_greeting():
    # Whisper base's text of the demo C005 greeting (您好，海川智家客服，请问有什么可以帮您) on 8 kHz audio
    swapped = [_u(0, Role.CUSTOMER, "灵豪，还专制调客服，请问有任何可疑犯灵。"), _u(1, Role.AGENT, "我的APP登不上去了")]
    assert "--agent-channel 1" in role_swap_warning(swapped, agent_channel=0)
    # a customer asking for customer service once is not a swapped layout
    normal = [_u(0, Role.AGENT, "您好，请问有什么可以帮您"), _u(1, Role.CUSTOMER, "我找你们客服好几次了")]
    assert role_swap_warning(normal, agent_channel=0) is None
