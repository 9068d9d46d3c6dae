"""What a subject is doing, and the threat that follows from it."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Behaviour(StrEnum):
    COMPLIANT = "compliant"
    PASSIVE_RESISTANCE = "passive_resistance"
    ACTIVE_RESISTANCE = "active_resistance"
    ASSAULTIVE = "assaultive"
    DEADLY_THREAT = "deadly_threat"
    FLEEING = "fleeing"
    SURRENDERED = "surrendered"
    INCAPACITATED = "incapacitated"


class Threat(IntEnum):
    """Ordered like the force continuum (facts.md §4)."""

    NONE = 0
    PASSIVE = 1
    ACTIVE = 2
    ASSAULTIVE = 3
    DEADLY = 4


# Graham v. Connor weighs "actively resisting or attempting to evade arrest by flight" together
# (facts.md §4), so fleeing is active resistance; Tennessee v. Garner keeps deadly force off it.
THREAT_OF: dict[Behaviour, Threat] = {
    Behaviour.COMPLIANT: Threat.NONE,
    Behaviour.PASSIVE_RESISTANCE: Threat.PASSIVE,
    Behaviour.ACTIVE_RESISTANCE: Threat.ACTIVE,
    Behaviour.ASSAULTIVE: Threat.ASSAULTIVE,
    Behaviour.DEADLY_THREAT: Threat.DEADLY,
    Behaviour.FLEEING: Threat.ACTIVE,
    Behaviour.SURRENDERED: Threat.NONE,
    Behaviour.INCAPACITATED: Threat.NONE,
}


class HeldObject(StrEnum):
    NONE = "none"
    PHONE = "phone"
    WALLET = "wallet"
    KNIFE = "knife"
    BAT = "bat"
    HANDGUN = "handgun"
    RIFLE = "rifle"
    TOY_GUN = "toy_gun"

    @property
    def is_weapon(self) -> bool:
        return self in (HeldObject.KNIFE, HeldObject.BAT, HeldObject.HANDGUN, HeldObject.RIFLE)
