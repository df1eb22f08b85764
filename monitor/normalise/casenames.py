"""Case names as courts write them -> one comparable form (the conventions juriscraper uses).

Why: the same case reaches us as ``UNITED STATES vs. Smith, et al., Defendant-Appellee`` from
one feed and ``United States v. Smith`` from another; alerts and the identity crosswalk need
one spelling. Rules (Cornell's citation guide, as CourtListener applies them): ``vs.`` -> ``v.``;
party designations (plaintiff, appellee, ...) and ``et al.`` dropped; every spelling of the
United States -> ``United States``; ``The State`` -> ``State``; a leading ``No.``/``Nos.`` and
stray punctuation at the ends of each side removed; whitespace collapsed.
"""

from __future__ import annotations

import html
import re

_VERSUS = re.compile(r"\svs\.?\s", re.IGNORECASE)
_LOWER_V = re.compile(r"\sv\.?\s")  # only lower-case "v": "Vitamin V Corp" stays
_UNITED_STATES = re.compile(
    r"^(USA|U\.S\.A\.|U\.S\.?|U\. S\.?|(The )?United States of America|The United States)(,|\.)?$", re.IGNORECASE)
_ET_AL = re.compile(r",?\set\.?\sal\.?", re.IGNORECASE)
_DESIGNATION = re.compile(
    r"^(appell(ee|ant)s?|claimants?|complainants?|defendants?|defendants?(--?|/)appell(ee|ant)s?"
    r"|devisee|executor|executrix|pet(\.|itioner)s?|petitioners?(--?|/)appell(ee|ant)s?"
    r"|petitioners?(--?|/)defendants?|plaintiffs?|plaintiffs?(--?|/)appell(ee|ant)s?|respond(e|a)nts?"
    r"|respond(e|a)nts?(--?|/)appell(ee|ant)s?|cross(--?|/)respondents?|crosss?(--?|/)petitioners?"
    r"|cross(--?|/)appell(ees|ant)s?|deceased)(,|\.)?$", re.IGNORECASE)
_EDGE_PUNCTUATION = r"(-|–|_|/|;|,|\s)*"
_BAD_END = re.compile(_EDGE_PUNCTUATION + "$")
_BAD_START = re.compile("^" + _EDGE_PUNCTUATION)
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "*": None, "#": None, "\u00a0": " "})


def _party(party: str) -> str:
    party = party.strip()
    if _UNITED_STATES.match(party) or party == "US":  # bare "US" only in capitals
        return "United States"
    if party.lower() == "the state":
        return "State"
    return party


def tidy(text: str) -> str:
    """Strip junk punctuation from each side of " v. " and collapse whitespace."""
    text = html.unescape(text).translate(_QUOTES)
    sides = [_BAD_START.sub("", _BAD_END.sub("", side)) for side in text.split(" v. ")]
    return " ".join(" v. ".join(sides).split())


def harmonize(name: str) -> str:
    """The comparable form of a case name (see the module docstring)."""
    text = _LOWER_V.sub(" v. ", _VERSUS.sub(" v. ", html.unescape(name)))
    text = " ".join(_DESIGNATION.sub("", word) for word in text.split())
    text = " v. ".join(_party(p) for p in text.split(" v. "))
    text = _ET_AL.sub("", text)
    text = re.sub(r"^Nos?\.\s+", "", text)
    return tidy(text)


_SMALL_WORDS = frozenset(["a", "an", "and", "as", "at", "but", "by", "en", "for", "if", "in", "is", "of", "on", "or", "the", "to", "v", "v.", "via", "vs", "vs."])
_ROMAN = re.compile(r"^[IVXLC]+$")


def _title_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in _SMALL_WORDS:
        return lower
    if re.fullmatch(r"([A-Za-z]\.)+[A-Za-z]?\.?,?", word):  # initials: U.S., L.L.C.
        return word.upper()
    if _ROMAN.match(word.rstrip(",.")) and len(word.rstrip(",.")) > 1:
        return word
    return "-".join(
        "/".join(re.sub(r"^([^A-Za-z]*)([a-z])", lambda m: m.group(1) + m.group(2).upper(), piece.lower())
                 for piece in part.split("/"))
        for part in word.split("-")
    )


def titlecase(name: str) -> str:
    """An ALL-CAPS caption in title case (cafc publishes ``FILLER v. US``); mixed-case words stay.

    Harmonise first, so ``US`` has become ``United States`` rather than ``Us``.
    """
    words = name.split()
    return " ".join(w if any(c.islower() for c in w) else _title_word(w, i == 0) for i, w in enumerate(words))
