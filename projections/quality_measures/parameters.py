"""The quality measures' parameters: every window and threshold in one versioned value.

DOMAIN.md "Quality measures" defines the four measures and names their sources;
each parameter below says which. Changing any value changes decisions, so it
needs a new `version` (and a new projection version, which rebuilds the read
model from position 0 beside the serving one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from domain.values import AgeBand, DiagnosticKind, Presentation, RedFlag
from projections.clinical.definitions import ESI
from projections.clinical.parameters import MCID, RESPONDER_RELIEF_PERCENT, Mcid

LBP_IMG = "LBP-IMG"
FS_CHG = "FS-CHG"
PROM_REG = "PROM-REG"
ESI_RESP = "ESI-RESP"


@dataclass(frozen=True)
class Measure:
    """One measure of DOMAIN.md's table, as a reader sees its definition."""

    id: str
    name: str
    denominator: str
    numerator: str
    exclusions: str
    source: str
    inverted: bool = False
    """True when the numerator counts what should not happen (higher is better)."""
    unit: str = "episode"


@dataclass(frozen=True)
class FollowUpPoint:
    """A registry follow-up: whole days after the index treatment, both included."""

    name: str
    days: int
    tolerance: int

    @property
    def window(self) -> tuple[int, int]:
        return self.days - self.tolerance, self.days + self.tolerance


@dataclass(frozen=True)
class MeasureRules:
    """Every window, threshold and vocabulary the four measures use."""

    version: int
    # LBP-IMG
    lbp_presentations: frozenset[str | None]
    lbp_age_bands: frozenset[str]
    lbp_lookback_months: int
    lbp_imaging: frozenset[str]
    lbp_window_days: int
    lbp_radicular: frozenset[str]
    lbp_deficit_flag: str
    # FS-CHG
    fs_instrument: str
    fs_intake_days: int
    fs_discharge_days: int
    fs_min_open_days: int
    fs_mcid: Mcid
    exempting_urgencies: frozenset[str]
    # PROM-REG
    registry_instruments: frozenset[str]
    registry_points: tuple[FollowUpPoint, ...]
    # ESI-RESP
    esi: str
    esi_repeat_days: int
    responder_relief_percent: int
    measures: Mapping[str, Measure]

    @property
    def last_point(self) -> FollowUpPoint:
        """The registry follow-up whose window closes last (PROM-REG's age)."""
        return max(self.registry_points, key=lambda p: p.window[1])


HEDIS = "NCQA HEDIS LBP (as payers publish it)"
CHOOSING_WISELY_NASS = "Choosing Wisely (NASS): no imaging in the first 6 weeks"
MIPS_220 = "CMS MIPS 220 (FOTO low back, intake and discharge)"
OSTELO = "Ostelo et al. 2008 (ODI MCID: 10 points or 30 %)"
ASR = "American Spine Registry (baseline, 90 days, 1 year); ICHOM low back pain"
L39240 = "CMS LCD L39240 (ESI); Choosing Wisely (AAPM&R)"

MEASURES = MappingProxyType(
    {
        LBP_IMG: Measure(
            LBP_IMG,
            "imaging for uncomplicated low back pain",
            "episodes opened for low back pain, patient 18-75, no prior episode "
            "in the 6 months before",
            "no X-ray, MRI or CT within 28 days of opening",
            "a red flag standing in the 28 days; a radicular presentation with a "
            "progressive deficit",
            f"{HEDIS}; {CHOOSING_WISELY_NASS}",
            inverted=True,
        ),
        FS_CHG: Measure(
            FS_CHG,
            "functional status change (ODI)",
            "closed episodes with an ODI at intake (within 14 days of opening)",
            "an ODI in the 30 days before closure improved by >= 10 points or 30 %",
            "episodes closed within 14 days; red-flag exempt surgery",
            f"{MIPS_220}; {OSTELO}",
        ),
        PROM_REG: Measure(
            PROM_REG,
            "registry follow-up completeness",
            "episodes with an intervention, biologic or surgery referral",
            "an outcome at baseline, at 90 days (+/- 30) and at 1 year (+/- 60)",
            "episodes younger than the 1-year window",
            ASR,
        ),
        ESI_RESP: Measure(
            ESI_RESP,
            "repeat ESIs with a documented response",
            "ESI sessions that repeat an earlier one within 12 months",
            "the previous session's relief >= 50 % is recorded before the repeat",
            "none",
            L39240,
            unit="ESI session",
        ),
    }
)

PROMS = frozenset({"nrs_pain", "odi", "promis_pf", "promis_pi"})

RULES_V1 = MeasureRules(
    version=1,
    # HEDIS LBP counts uncomplicated low back pain with or without sciatica: an
    # axial, radicular or mixed presentation, or none stated (every episode of
    # this service is adult low back pain, DOMAIN.md). Neurogenic claudication
    # (stenosis) is not uncomplicated low back pain.
    lbp_presentations=frozenset(
        {
            Presentation.AXIAL.value,
            Presentation.RADICULAR.value,
            Presentation.MIXED.value,
            None,
        }
    ),
    # HEDIS LBP: members 18-75 (the bands are cut there, domain.values.AgeBand).
    lbp_age_bands=frozenset(
        {
            AgeBand.FROM_18_TO_34.value,
            AgeBand.FROM_35_TO_49.value,
            AgeBand.FROM_50_TO_64.value,
            AgeBand.FROM_65_TO_75.value,
        }
    ),
    # HEDIS LBP negative diagnosis history; DOMAIN.md: 6 calendar months.
    lbp_lookback_months=6,
    lbp_imaging=frozenset(
        {DiagnosticKind.XRAY.value, DiagnosticKind.MRI.value, DiagnosticKind.CT.value}
    ),
    # HEDIS LBP: imaging on the index date or in the 28 days after it.
    lbp_window_days=28,
    lbp_radicular=frozenset({Presentation.RADICULAR.value}),
    lbp_deficit_flag=RedFlag.PROGRESSIVE_NEURO_DEFICIT.value,
    # MIPS 220 on the ODI: intake within 14 days of opening, discharge in the 30
    # days before closure; episodes closed within 14 days have no discharge.
    fs_instrument="odi",
    fs_intake_days=14,
    fs_discharge_days=30,
    fs_min_open_days=14,
    fs_mcid=MCID["odi"],
    # DOMAIN.md v2 red-flag exemption: emergent or urgent while a red flag stands.
    exempting_urgencies=frozenset({"emergent", "urgent"}),
    # American Spine Registry and ICHOM collect patient-reported scores (ODI,
    # NRS, PROMIS); a relief percentage answers a treatment, not a registry point.
    registry_instruments=PROMS,
    registry_points=(
        FollowUpPoint("90_days", 90, 30),
        FollowUpPoint("1_year", 365, 60),
    ),
    # CMS L39240: sessions per region group; DOMAIN.md v2: a rolling 12 months
    # is the 365 days ending on the day in question; a responder >= 50 %.
    esi=ESI,
    esi_repeat_days=365,
    responder_relief_percent=RESPONDER_RELIEF_PERCENT,
    measures=MEASURES,
)


def measure_id(text: str) -> str | None:
    """The measure a path or filter names (any letter case), or None."""
    wanted = text.strip().upper()
    return wanted if wanted in MEASURES else None
