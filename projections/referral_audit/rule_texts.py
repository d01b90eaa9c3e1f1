"""The text of each audit rule as an evidence packet quotes it, with its sources.

One entry per rule and rule-set version: what the rule says (DOMAIN.md's rule
table, thresholds as the rule set's parameters hold them), the guidelines and
payer policies it rests on, and the module that implements it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleText:
    """A rule as a reviewer reads it: its wording, its sources and its code."""

    text: str
    sources: tuple[str, ...]
    code: str


_V2 = "projections/referral_audit/rules_v2"
_V1 = "projections/referral_audit/rules"
_FUSION = "payer lumbar fusion policies"
_ACR = "ACR Appropriateness Criteria low back pain 2021"

V2_TEXTS: dict[str, RuleText] = {
    "R1": RuleText(
        "The pathway visits spine surgery, then pain medicine (or an ESI or a "
        "diagnostic block), then a surgery referral, with no pain generator "
        "identified between that surgeon visit and the referral.",
        ("NICE NG59", _FUSION, "Choosing Wisely (NASS)"),
        f"{_V2}/surgery.py",
    ),
    "R2": RuleText(
        "A non-exempt surgery referral (any urgency) with no MRI or CT in the 6 "
        "calendar months before it, or no pain generator identified by then.",
        (_ACR, _FUSION),
        f"{_V2}/surgery.py",
    ),
    "R3": RuleText(
        "A non-exempt surgery referral with fewer than 6 weeks (42 days) of "
        "documented conservative care.",
        ("ACP 2017 guideline", _FUSION),
        f"{_V2}/surgery.py",
    ),
    "R4": RuleText(
        "A non-exempt surgery referral after at least one injection where every "
        "prior treatment was an injection: no conservative care and no "
        "regenerative option documented in a plan.",
        ("CMS LCD L39240", "CMS LCD L38801", "CMS LCD L39402"),
        f"{_V2}/surgery.py",
    ),
    "R5": RuleText(
        "More than 4 ESI sessions in one region group within a rolling 12 months "
        "(365 days), counted across all of the patient's episodes.",
        ("CMS LCD L39240",),
        f"{_V2}/injections.py",
    ),
    "R6": RuleText(
        "A new ESI session when the previous session has no outcome recorded "
        "after it, or relief below 50 % (a same-day second level is not a repeat).",
        ("CMS LCD L33906", "CMS LCD L39240", "Choosing Wisely (AAPM&R)"),
        f"{_V2}/injections.py",
    ),
    "R7": RuleText(
        "Radiofrequency ablation without the diagnostic block(s) the active block "
        "profile requires at the same levels (payer: two medial branch blocks of "
        "at least 80 %; NHS: one of at least 50 % within 6 months; SI joint: "
        "75 %).",
        ("CMS LCD L38801", "CMS LCD L39402", "NICE NG59"),
        f"{_V2}/injections.py",
    ),
    "R8": RuleText(
        "An intervention or biologic with no baseline outcome before it, or none "
        "in its follow-up window (6 weeks, plus or minus 2).",
        ("American Spine Registry", "ICHOM low back pain"),
        f"{_V2}/injections.py",
    ),
    "R9": RuleText(
        "Cauda equina standing with no emergent surgery referral within 4 h (a "
        "transfer closure is not one); infection standing with no MRI or CT "
        "within 6 h (an X-ray does not count).",
        ("NICE NG59", "GIRFT spinal surgery", _ACR),
        f"{_V2}/deadline.py",
    ),
    "R10": RuleText(
        "A referral from primary care or a concierge service with no consult note "
        "to that referrer within 14 days (a later note does not clear it; the "
        "finding says when it came).",
        ("closed-loop referral: consult note to the referring physician",),
        f"{_V2}/deadline.py",
    ),
    "R11": RuleText(
        "The episode is closed with reason surgery and no surgery referral is on "
        "record.",
        ("closed-loop referral: a surgery leaves a referral on record",),
        f"{_V2}/closure.py",
    ),
}

# Rule set v1 where it differs from v2 (the rest reads the same).
V1_TEXTS: dict[str, RuleText] = {
    **{
        rule: RuleText(text.text, text.sources, text.code.replace(_V2, _V1))
        for rule, text in V2_TEXTS.items()
        if rule != "R11"
    },
    "R1": RuleText(
        "The pathway visits spine surgery, then pain medicine (or an ESI or a "
        "block), then a surgery referral, with no pain generator identified.",
        V2_TEXTS["R1"].sources,
        f"{_V1}/surgery.py",
    ),
    "R2": RuleText(
        "An elective surgery referral with no imaging (MRI, CT or X-ray) in the "
        "6 months before it, or no pain generator identified.",
        V2_TEXTS["R2"].sources,
        f"{_V1}/surgery.py",
    ),
    "R3": RuleText(
        "An elective surgery referral with fewer than 6 weeks of documented "
        "conservative care and no red flag.",
        V2_TEXTS["R3"].sources,
        f"{_V1}/surgery.py",
    ),
    "R4": RuleText(
        "An elective surgery referral after injections only: no conservative care "
        "and no regenerative option documented in a plan.",
        V2_TEXTS["R4"].sources,
        f"{_V1}/surgery.py",
    ),
    "R5": RuleText(
        "More than 4 ESIs in one region within a rolling 12 months, in the episode.",
        ("CMS LCD L33906",),
        f"{_V1}/treatment.py",
    ),
    "R10": RuleText(
        "A referral from primary care or a concierge service with no consult note "
        "to that referrer within 14 days (a note sent later clears it).",
        V2_TEXTS["R10"].sources,
        f"{_V1}/deadline.py",
    ),
}
for _rule in ("R6", "R7", "R8"):
    V1_TEXTS[_rule] = RuleText(
        V2_TEXTS[_rule].text, V2_TEXTS[_rule].sources, f"{_V1}/treatment.py"
    )

TEXTS = {1: V1_TEXTS, 2: V2_TEXTS}


def rule_text(rule: str, version: int) -> RuleText:
    """What rule `rule` of rule set `version` says, and where it comes from."""
    return TEXTS[version][rule]
