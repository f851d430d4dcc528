"""The conversation domain (agents/conversation.py): one list of channels, states, outcomes, times."""
from datetime import datetime, timedelta, timezone

from agents import conversation as conv
from agents.channels import CHANNELS, clean_channels


def test_one_channel_list_gives_the_skills():
    assert conv.CHANNELS == ("voice", "chat", "email", "sms", "facebook")
    assert set(conv.SKILLS_BY_CHANNEL) == set(conv.CHANNELS)
    assert CHANNELS == ("chat", "email", "voice_in", "voice_out", "sms", "facebook")
    assert conv.INBOUND_SKILL["voice"] == "voice_in" and conv.OUTBOUND_SKILL["voice"] == "voice_out"
    assert conv.INBOUND_SKILL["chat"] == conv.OUTBOUND_SKILL["chat"] == "chat"
    assert clean_channels(["voice_out", "chat", "chat"]) == ["chat", "voice_out"]


def test_states_move_forward_only_to_closed():
    assert conv.state_of(ended=False, agent=None, offered=False) == "opened"
    assert conv.state_of(ended=False, agent=None, offered=True) == "offered"
    assert conv.state_of(ended=False, agent=3, offered=True) == "accepted"
    assert conv.state_of(ended=True, agent=3, offered=True) == "closed"
    assert conv.can_move("opened", "offered") and conv.can_move("offered", "accepted")
    assert conv.can_move("accepted", "offered")          # a transfer offers it again
    assert not conv.can_move("closed", "opened") and not conv.can_move("closed", "accepted")


def test_outcomes_per_channel():
    assert set(conv.OUTCOMES) == {o for outs in conv.OUTCOMES_BY_CHANNEL.values() for o in outs}
    assert conv.allowed_outcome("chat", "offline_form") and not conv.allowed_outcome("voice", "offline_form")
    assert conv.allowed_outcome("voice", "voicemail") and not conv.allowed_outcome("chat", "voicemail")
    base = dict(ended=True, answered=False, voicemail=False, abandoned=False, refused=False)
    assert conv.call_outcome(**base) == "missed"
    assert conv.call_outcome(**{**base, "voicemail": True, "answered": True}) == "voicemail"


def test_types_map_voicemail_to_a_voice_outcome():
    assert conv.TYPES["voicemail"] == conv.Kind("voicemail", "voice", "voicemail")
    assert conv.kind_of("voice", "voicemail") == "voicemail"
    assert conv.kind_of("voice", "answered") == "voice" and conv.kind_of("chat", "missed") == "chat"
    assert set(conv.CHANNELS) < set(conv.TYPES) and {"task", "system"} < set(conv.DRAWER_KINDS)


def test_one_duration_rule_for_every_channel():
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert conv.seconds_between(t, t + timedelta(seconds=2.46)) == 2.5
    assert conv.seconds_between(t, t - timedelta(seconds=1)) == 0.0
    assert conv.seconds_between(None, t) is None
    naive = datetime(2026, 1, 1)   # SQLite returns naive UTC
    assert conv.seconds_between(naive, t + timedelta(seconds=1.04)) == 1.0
    answered = conv.times(t, t + timedelta(seconds=3.333), t + timedelta(seconds=10.06))
    assert answered == conv.Times(wait=3.3, talk=6.7, handle=10.1)
    missed = conv.times(t, None, t + timedelta(seconds=30.04))
    assert missed == conv.Times(wait=30.0, talk=None, handle=30.0)
    assert conv.times(t, None, None) == conv.Times(None, None, None)


def test_the_web_labels_cover_the_vocabulary_in_one_place():
    from web import labels

    assert set(labels.TYPE_LABELS) == set(conv.TYPES)
    assert set(labels.KIND_LABELS) == set(conv.DRAWER_KINDS)
    assert set(labels.SKILL_LABELS) == set(conv.SKILLS)
    assert set(labels.OUTCOME_LABELS) == set(conv.OUTCOMES)
    assert {ch for ch, _direction in labels.DIRECTED_LABELS} <= set(conv.CHANNELS)


def test_no_channel_branches_outside_a_channels_own_modules():
    """DESIGN.md: no ``channel == …`` outside a channel's module (chat: centrala/channels/chat.py,
    web/chat/; voice: centrala/channels/voice.py, web/calls/, web/voice/, pbx/)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    own = ("centrala/channels/", "web/chat/", "web/calls/", "web/voice/", "pbx/", "templates/chat/")
    pattern = re.compile(r"""channel\s*(==|!=|\bin\b)\s*[\(\[]?\s*['"](voice|voicemail|chat|email|sms|facebook)['"]""")
    found = []
    for path in [*root.glob("web/**/*.py"), *root.glob("web/templates/**/*.html"), *root.glob("centrala/**/*.py"),
                 *root.glob("agents/**/*.py"), *root.glob("web/static/*.js")]:
        rel = path.relative_to(root).as_posix()
        if any(rel.startswith(o) or ("/" + o) in rel for o in own):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_channel_registry():
    import pytest

    from centrala.channels import Channel, ChannelError, registry

    assert registry.keys() == ("voice", "chat", "email")
    assert registry.types() == ("voice", "voicemail", "chat", "email")
    email = registry.get("email")
    assert (email.skills, email.inbound_skill, email.real_time, email.text) == (("email",), "email", False, True)
    chat, voice = registry.get("chat"), registry.get("voice")
    assert (chat.skills, chat.inbound_skill, chat.text) == (("chat",), "chat", True)
    assert (voice.skills, voice.inbound_skill, voice.text, voice.remote_is_phone) == \
        (("voice_in", "voice_out"), "voice_in", False, True)
    assert "offline_form" in chat.outcomes() and "voicemail" in voice.outcomes()
    with pytest.raises(ChannelError) as refused:
        registry.get("fax")
    assert refused.value.status == 422
    with pytest.raises(ChannelError) as refused:
        voice.send(None, None, 1, "hello")
    assert refused.value.status == 422 and "call" in str(refused.value)

    class Fax(Channel):
        key = "fax"

    with pytest.raises(ValueError):
        registry.register(Fax())      # a key must be in agents/conversation.py first
    inbound = chat.receive({"body": "  hi  ", "origin": "https://shop.test"})
    assert inbound.text == "hi" and inbound.data["origin"] == "https://shop.test"
