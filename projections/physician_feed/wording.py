"""How the feed's summaries name things: the clinical vocabulary as a physician reads it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

SERVICES = {
    "primary_care": "primary care",
    "concierge": "concierge medicine",
    "spine_surgery": "spine surgery",
    "pain_medicine": "pain medicine",
    "emergency": "the emergency department",
    "physical_therapy": "physical therapy",
    "self": "self-referral",
}
RED_FLAGS = {
    "cauda_equina": "cauda equina",
    "progressive_neuro_deficit": "progressive neurological deficit",
    "infection": "infection",
    "fracture": "fracture",
    "malignancy": "malignancy",
}
DISPOSITIONS = {
    "none": "no escalation",
    "urgent_imaging": "urgent imaging",
    "emergency_referral": "emergency referral",
}
DIAGNOSTICS = {
    "mri": "MRI",
    "ct": "CT",
    "xray": "X-ray",
    "emg_ncs": "EMG/NCS",
    "medial_branch_block": "Medial branch block",
    "si_joint_block": "SI joint block",
    "discography": "Discography",
    "physical_exam": "Physical exam",
}
GENERATORS = {
    "facet": "facet pain",
    "sacroiliac": "sacroiliac joint pain",
    "discogenic": "discogenic pain",
    "radicular": "radicular pain",
    "stenosis": "spinal stenosis",
    "myofascial": "myofascial pain",
    "nonspecific": "nonspecific pain",
}
MODALITIES = {
    "physical_therapy": "Physical therapy",
    "exercise": "Exercise programme",
    "cbt": "CBT",
    "medication": "Medication",
    "chiropractic": "Chiropractic care",
}
PLAN_ITEMS = {
    "conservative_care": "conservative care",
    "diagnostic": "diagnostic",
    "intervention": "intervention",
    "biologic": "biologic",
    "surgical_consult": "surgical consult",
    "education": "education",
}
REGENERATIVE = {
    "recommended": "regenerative option recommended",
    "offered_declined": "regenerative option offered and declined",
    "not_indicated": "regenerative option not indicated",
}
PROCEDURES = {
    "epidural_steroid_injection": "Epidural steroid injection",
    "radiofrequency_ablation": "Radiofrequency ablation",
    "si_joint_injection": "SI joint injection",
    "facet_injection": "Facet injection",
}
PRODUCTS = {
    "prp": "PRP",
    "platelet_lysate": "Platelet lysate",
    "bone_marrow_concentrate": "Bone marrow concentrate",
}
INSTRUMENTS = {
    "nrs_pain": "NRS",
    "odi": "ODI",
    "promis_pf": "PROMIS PF",
    "promis_pi": "PROMIS PI",
    "relief_percent": "Relief",
}
INTENTS = {
    "consult": "a surgical consult",
    "decompression": "decompression",
    "fusion": "fusion",
}
INDICATIONS = {
    "red_flag": "red flag",
    "progressive_deficit": "progressive deficit",
    "failed_conservative_care": "failed conservative care",
    "instability": "instability",
    "patient_preference": "patient preference",
}
CLOSURES = {
    "resolved": "resolved",
    "surgery": "the patient went to surgery",
    "transferred": "transferred",
    "lost_to_follow_up": "lost to follow-up",
    "declined": "the patient declined further care",
}

# A summary is one line: free text (reasons, goals, justifications) is cut here.
FREE_TEXT_CHARS = 160


def name(names: dict[str, str], value: Any) -> str:
    """A vocabulary value as a reader reads it (an unknown one as itself, spaced)."""
    text = str(value)
    return names.get(text, text.replace("_", " "))


def capital(text: str) -> str:
    """The text with its first letter in capitals."""
    return text[:1].upper() + text[1:]


def clip(text: str, limit: int = FREE_TEXT_CHARS) -> str:
    """Free text on one line (whitespace runs become one space), cut at `limit`."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def number(value: Decimal | int | float) -> str:
    """A score or volume as written: 46, 4.5 (never 46.0 or 4.5E+1)."""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def listed(items: Iterable[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c"."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def in_order(values: Iterable[str], names: dict[str, str]) -> list[str]:
    """Vocabulary values in the order the vocabulary lists them (unknown ones last)."""
    order = list(names)
    return sorted(
        values, key=lambda v: (order.index(v) if v in order else len(order), v)
    )


def levels(values: Sequence[str]) -> str:
    """Spinal levels, comma-separated."""
    return ", ".join(values)


def where(region: str, at_levels: Sequence[str]) -> str:
    """A region and its levels: "lumbar L4-L5, L5-S1"."""
    return " ".join(part for part in (region, levels(at_levels)) if part)


def plural(count: int, word: str, words: str | None = None) -> str:
    """A count with its noun: 1 week, 6 weeks."""
    return f"{count} {word if count == 1 else words or word + 's'}"
