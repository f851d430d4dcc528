"""The skills an agent can have (ACC-4, SET-2): derived from the one channel list in
``agents/conversation.py``.  Keys are stable; labels live in ``web/labels.py``."""
from .conversation import SKILLS

CHANNELS = SKILLS   # users.channels holds skills (the name kept from ACC-4)


def clean_channels(values) -> list[str]:
    """Keep known skill keys, in the canonical order, without duplicates."""
    wanted = set(values or ())
    unknown = wanted - set(CHANNELS)
    if unknown:
        raise ValueError("unknown channel(s): " + ", ".join(sorted(unknown)))
    return [c for c in CHANNELS if c in wanted]
