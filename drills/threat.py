"""What a subject is doing, and the threat that follows from it."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal


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


# Flight alone is not active resistance: fleeing should not by itself justify a CEW (facts.md §5,
# "flight alone", PERF 2011 as reported), so a runner is passive resistance. A runner who is a
# danger to others is another matter (`threat_of`): Tennessee v. Garner (facts.md §5).
THREAT_OF: dict[Behaviour, Threat] = {
    Behaviour.COMPLIANT: Threat.NONE,
    Behaviour.PASSIVE_RESISTANCE: Threat.PASSIVE,
    Behaviour.ACTIVE_RESISTANCE: Threat.ACTIVE,
    Behaviour.ASSAULTIVE: Threat.ASSAULTIVE,
    Behaviour.DEADLY_THREAT: Threat.DEADLY,
    Behaviour.FLEEING: Threat.PASSIVE,
    Behaviour.SURRENDERED: Threat.NONE,
    Behaviour.INCAPACITATED: Threat.NONE,
}


def threat_of(behaviour: Behaviour, danger_to_others: bool = False) -> Threat:
    """The threat a behaviour poses. A fleeing subject who is a danger to others (the drill's
    `danger_to_others` attribute: probable cause of a significant threat of death or serious
    injury, Tennessee v. Garner, facts.md §5) poses a deadly threat; one who merely runs, a
    passive one (flight alone, facts.md §5)."""
    if behaviour is Behaviour.FLEEING and danger_to_others:
        return Threat.DEADLY
    return THREAT_OF[behaviour]


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


# Who the subject is and where (docs/drills.md, "Subject attributes"): the facts Graham v.
# Connor and the CEW guidelines weigh beside behaviour (facts.md §5: severity of the crime, a
# danger to others, restricted subjects and positions). Shared by the drill format
# (drills.schema.Attributes) and the log (drills.events.SubjectAttributes).
AgeGroup = Literal["child", "juvenile", "adult", "elderly"]
Crisis = Literal["none", "mental_health", "medical"]
Offence = Literal["none", "minor", "serious", "violent_felony"]
Position = Literal["standing", "ground", "elevated", "stairs", "water", "vehicle"]
ATTRIBUTE_DEFAULTS: dict[str, object] = {
    "age_group": "adult",
    "pregnant": False,
    "frail": False,
    "crisis": "none",
    "impaired": False,
    "offence": "none",
    "danger_to_others": False,
    "position": "standing",
    "near_flammables": False,
    "restrained": False,
}
