"""Agent status (STA-1): the three states an agent can be in."""
from __future__ import annotations

import enum


class AgentStatus(str, enum.Enum):
    ONLINE = "online"
    BREAK = "break"
    OFFLINE = "offline"

    @property
    def receives_work(self) -> bool:
        """Only Online agents are offered new communication (STA-2)."""
        return self is AgentStatus.ONLINE
