"""Unit conversions, in one place: trainers think in feet, yards and inches; physics in metres."""

FT_M = 0.3048
YD_M = 0.9144
IN_M = 0.0254
GRAIN_KG = 6.479891e-5
FPS_MPS = 0.3048


def ft_to_m(ft: float) -> float:
    return ft * FT_M


def m_to_ft(m: float) -> float:
    return m / FT_M


def m_to_in(m: float) -> float:
    return m / IN_M
