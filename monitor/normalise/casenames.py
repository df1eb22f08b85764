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
# a party designation as a whole word (between spaces), with its comma or period
_DESIGNATION = re.compile(
    r"(?<!\S)(appell(ee|ant)s?|claimants?|complainants?|defendants?|defendants?(--?|/)appell(ee|ant)s?"
    r"|devisee|executor|executrix|pet(\.|itioner)s?|petitioners?(--?|/)appell(ee|ant)s?"
    r"|petitioners?(--?|/)defendants?|plaintiffs?|plaintiffs?(--?|/)appell(ee|ant)s?|respond(e|a)nts?"
    r"|respond(e|a)nts?(--?|/)appell(ee|ant)s?|cross(--?|/)respondents?|crosss?(--?|/)petitioners?"
    r"|cross(--?|/)appell(ees|ant)s?|deceased)(,|\.)?(?!\S)", re.IGNORECASE)
_EDGE_PUNCTUATION = r"[-–_/;,\s]+"  # a class, not an alternation: the engine tries it at every position
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
    text = _DESIGNATION.sub("", " ".join(text.split()))
    text = " v. ".join(_party(p) for p in text.split(" v. "))
    text = _ET_AL.sub("", text)
    text = re.sub(r"^Nos?\.\s+", "", text)
    return tidy(text)


_SMALL_WORDS = frozenset(["a", "an", "and", "as", "at", "but", "by", "en", "for", "if", "in", "is", "of", "on", "or",
                          "the", "to", "v", "v.", "via", "vs", "vs.", "re", "re:", "ex", "rel.", "d/b/a"])
_ROMAN = re.compile(r"^[IVXLC]+$")
# Capitals a court keeps in a caption: agencies and company forms. Words without a vowel
# (LLC, DHS, NLRB) are kept too, except the few abbreviations written in title case.
ACRONYMS = frozenset([
    "ACLU", "ATF", "BIA", "CIA", "DEA", "DOJ", "EEOC", "EPA", "FAA", "FBI", "FCC", "FDA", "FDIC", "FEMA", "FTC",
    "HUD", "ICE", "IRS", "ITC", "NAACP", "NASA", "NOAA", "OSHA", "SEC", "USA", "USCIS", "USPS", "AT&T",
])
_TITLE_CASE_ABBREVIATIONS = frozenset(["MR", "MRS", "MS", "DR", "ST", "JR", "SR", "CH", "BHD", "LTD"])
_ALL_CAPS_VERSUS = re.compile(r"\sV(?:S)?\.?\s")


def _acronym(word: str) -> bool:
    """ICE, LLC, H&M: kept in capitals. ``CTR.`` and ``INS.`` end in a period: abbreviated words."""
    bare = word.strip(",;:()'\"")
    if bare.rstrip(".") in ACRONYMS or re.fullmatch(r"[A-Z]{1,3}&[A-Z]{1,3}", bare):
        return True
    return (len(bare) > 1 and bare.isalpha() and bare.isupper() and not re.search("[AEIOUY]", bare)
            and bare not in _TITLE_CASE_ABBREVIATIONS)


def _title_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and (lower in _SMALL_WORDS or lower.rstrip(":,") in _SMALL_WORDS):  # "IN THE MATTER OF:"
        return lower
    if re.fullmatch(r"([A-Za-z]\.)+[A-Za-z]?\.?,?", word):  # initials: U.S., L.L.C.
        return word.upper()
    if _ROMAN.match(word.rstrip(",.")) and len(word.rstrip(",.")) > 1:
        return word
    if _acronym(word):
        return word
    if re.fullmatch(r"MC[A-Z]{2,}(?:'S)?\W*", word):  # MCDONALD -> McDonald, MCDONALD'S -> McDonald's
        return "Mc" + word[2] + word[3:].lower()
    return "-".join("/".join(_capitalised(piece) for piece in part.split("/")) for part in word.split("-"))


def _capitalised(piece: str) -> str:
    """``O'NEIL`` -> ``O'Neil``, ``D'ANGELO`` -> ``D'Angelo``: an elided O', D' or L' keeps the
    capital after it (as names are spelled); ``DOESN'T`` -> ``Doesn't``."""
    # any letter, accented ones too ([^\W\d_]): ÁLVAREZ is Álvarez, not áLvarez
    piece = re.sub(r"^([\W\d_]*)([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), piece.lower())
    return re.sub(r"^([\W\d_]*[ODL]')([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), piece)


def titlecase(name: str) -> str:
    """An ALL-CAPS caption in title case (cafc publishes ``FILLER v. US``); mixed-case words stay.

    Harmonise first, so ``US`` has become ``United States`` rather than ``Us``.
    """
    words = name.split()
    return " ".join(w if any(c.islower() for c in w) else _title_word(w, i == 0) for i, w in enumerate(words))


def case_name(raw: str) -> str:
    """A caption as the court writes it in its opinions, from whatever a feed or API sent.

    Why one function: every court item (any kind, any flavour, a generic feed too) must give
    the same name for the same case, so alerts read alike and identities line up. A caption
    sent in capitals (``USA V. JONATHAN ANDERSON``) is harmonised and title-cased
    (``United States v. Jonathan Anderson``), keeping acronyms (ICE, DHS, LLC, FBI, U.S.);
    a caption in mixed case is only harmonised.
    """
    text = " ".join(html.unescape(raw).split())
    letters = _VERSUS.sub(" ", _LOWER_V.sub(" ", f" {text} "))  # cafc writes "FILLER v. US"
    if any(c.isalpha() for c in letters) and not any(c.islower() for c in letters):
        return titlecase(harmonize(_ALL_CAPS_VERSUS.sub(" v. ", f" {text} ").strip()))
    return harmonize(text)
