"""The skills an agent can have (ACC-4, SET-2): derived from the one channel list in
``agents/conversation.py``.  Keys are stable; labels live in ``web/labels.py``."""
from .conversation import SKILLS

CHANNELS = SKILLS   # users.channels holds skills (the name kept from ACC-4)
# What a new user serves unless told otherwise, wherever they are added (panel, API, CLI,
# first start): every channel — an agent who serves none is never rung and never offered a chat.
DEFAULT_CHANNELS = CHANNELS


def clean_channels(values) -> list[str]:
    """Keep known skill keys, in the canonical order, without duplicates."""
    wanted = set(values or ())
    unknown = wanted - set(CHANNELS)
    if unknown:
        raise ValueError("unknown channel(s): " + ", ".join(sorted(unknown)))
    return [c for c in CHANNELS if c in wanted]


def parse_channel_list(text: str) -> list[str]:
    """``"chat,voice_in"`` (the command line's form) -> channel keys; ``"none"`` or "" -> []."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if items == ["none"]:
        return []
    try:
        return clean_channels(items)
    except ValueError as exc:
        raise ValueError(f"{exc} (known: {', '.join(CHANNELS)}, or none)") from None
