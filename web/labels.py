"""What a person reads for the conversation vocabulary of ``agents/conversation.py``, in one place:
channels and History types, drawer kinds, agent skills, outcomes.  Templates get them through the
context processor below; Python code imports them.  Keys are the domain's; only labels live here."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from centrala.channels import registry

# History's type filter (a channel, or voicemail)
TYPE_LABELS = {"voice": _l("Calls"), "voicemail": _l("Voicemail"), "chat": _l("Chats"), "email": _l("Email"),
               "sms": _l("SMS"), "facebook": _l("Messenger")}
# one item of work: a drawer item, a row of History or of a contact's communications
KIND_LABELS = {"voice": _l("Call"), "voicemail": _l("Voicemail"), "chat": _l("Chat"), "email": _l("Email"),
               "sms": _l("SMS"), "facebook": _l("Messenger"), "task": _l("Task"), "system": _l("System")}
# a channel whose rows read differently by direction
DIRECTED_LABELS = {("voice", "inbound"): _l("Inbound call"), ("voice", "outbound"): _l("Outbound call")}
SKILL_LABELS = {"chat": _l("Chat"), "email": _l("Email"), "voice_in": _l("Inbound voice"),
                "voice_out": _l("Outbound voice"), "sms": _l("SMS"), "facebook": _l("Facebook")}
OUTCOME_LABELS = {"answered": _l("Answered"), "missed": _l("Missed"), "abandoned": _l("Abandoned"),
                  "voicemail": _l("Voicemail"), "offline_form": _l("Offline message"), "failed": _l("Failed"),
                  "interrupted": _l("Interrupted"), "in_progress": _l("In progress")}


def communication_label(channel: str, direction: str) -> str:
    """"Inbound call", "Outbound call", "Chat" …: how one conversation's kind is written."""
    return str(DIRECTED_LABELS.get((channel, direction)) or KIND_LABELS.get(channel, channel))


def kind_labels() -> dict[str, str]:
    """The drawer's kinds in the current language (for the panel's script)."""
    return {k: str(v) for k, v in KIND_LABELS.items()}


def outcome_label(outcome: str) -> str:
    return str(OUTCOME_LABELS.get(outcome, outcome))


def init_app(app) -> None:
    """Jinja globals (also seen by imported macros such as history/_labels.html)."""
    app.jinja_env.globals.update(
        type_labels=TYPE_LABELS, drawer_kind_labels=kind_labels,
        history_types=registry.types(), communication_label=communication_label,
        outcome_label_text=outcome_label, channel_of=registry.get)
