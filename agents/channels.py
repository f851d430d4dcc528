"""The channels an agent can serve (ACC-4, SET-2).  Keys are stable; labels live in web."""
CHANNELS = ("chat", "email", "voice_in", "voice_out", "sms", "facebook")


def clean_channels(values) -> list[str]:
    """Keep known channel keys, in the canonical order, without duplicates."""
    wanted = set(values or ())
    unknown = wanted - set(CHANNELS)
    if unknown:
        raise ValueError("unknown channel(s): " + ", ".join(sorted(unknown)))
    return [c for c in CHANNELS if c in wanted]
