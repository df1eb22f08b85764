"""Canonical identities: one name for one bill, whichever provider describes it.

Federal bills: ``us/<congress>/<type>/<number>`` (``us/119/s/3470``, ``us/119/hr/6091``).
State bills: ``<state>/<session>/<type>/<number>`` (``il/104/hb/1312``, ``md/2026/hb/351``).

The session part is the legislature's own session name reduced to one number, chosen so that
Open States' session identifier and LegiScan's session object give the same answer:
- states that number their legislatures by the assembly (Illinois: the 104th General
  Assembly, 2025–2026) use that number: Open States ``104th`` → 104, LegiScan
  ``session_name`` "104th General Assembly" → 104;
- every other state uses the first year of the session: Open States ``20252026`` (CA),
  ``2025-2026`` (NY), ``2026`` (MD), ``2026A`` (CO) → the first four-digit year; LegiScan
  ``year_start``. Where Open States gives only the legislature's number (Alaska ``27``,
  Massachusetts ``194th``, New Jersey ``221``), that legislature's first year.
Bill numbers drop zero padding, spaces, a year infix (Colorado ``SB26-005``, a special session's
``SB25B-004``), a trailing amendment letter (New York ``S8500A`` is a version of ``S8500``) and
a special session's letter after the number (Florida ``SB 2-C``).
"""

from __future__ import annotations

import re

from monitor.errors import ParseError

# States whose session name is the number of the legislature/assembly (LegiScan and Open States agree on it).
NUMBERED_SESSIONS: frozenset[str] = frozenset({"il"})

# States whose Open States session identifier is the legislature's number alone (Alaska ``27``,
# Massachusetts ``194th``, Texas ``89R`` and ``891``, its first called session), while LegiScan
# gives the year: the legislature's first year is base + 2 × number (read from the sessions' start
# dates in openstates-scrapers), and the number has this many digits at most, so a special
# session's suffix is not read into it.
LEGISLATURE_YEARS: dict[str, tuple[int, int]] = {
    "ak": (1957, 2), "dc": (1973, 2), "de": (1719, 3), "gu": (1949, 2), "ma": (1637, 3), "me": (1761, 3),
    "mp": (1977, 2), "nd": (1887, 2), "ne": (1807, 3), "nj": (1582, 3), "nv": (1859, 2), "oh": (1753, 3),
    "tn": (1797, 3), "tx": (1847, 2), "vi": (1953, 2),
}

# A year infix may carry a special session's letter (Colorado ``SB25B-004``), and a special
# session's letter may follow the number (Florida ``SB 2-C``).
_BILL_NUMBER = re.compile(r"^\s*([A-Za-z]+)\.?\s*(?:\d{2}[A-Za-z]?-)?0*(\d+)(?:-?[A-Za-z])?\s*$")
_FEDERAL = re.compile(r"^\s*(h\.?\s*r|s|h\.?\s*j\.?\s*res|s\.?\s*j\.?\s*res|h\.?\s*con\.?\s*res|"
                      r"s\.?\s*con\.?\s*res|h\.?\s*res|s\.?\s*res)\.?\s*(\d+)\s*$", re.IGNORECASE)


def federal_identity(congress: int | str, bill_type: str, number: int | str) -> str:
    return f"us/{int(congress)}/{bill_type.lower()}/{int(number)}"


def parse_federal_bill(text: str) -> tuple[str, int]:
    """``S. 3470`` / ``s3470`` / ``H.R. 6091`` / ``hjres45`` → (``s``, 3470)."""
    match = _FEDERAL.match(text)
    if not match:
        raise ValueError(f"not a federal bill number: {text!r} (expected e.g. 'S. 3470' or 'hr6091')")
    kind = re.sub(r"[.\s]", "", match.group(1)).lower()
    return kind, int(match.group(2))


def split_bill_number(identifier: str) -> tuple[str, int]:
    """``HB 1312`` / ``HB0351`` / ``SB26-005`` / ``SB25B-004`` / ``S8500A`` / ``SB 2-C`` → (``hb``, 1312)…"""
    match = _BILL_NUMBER.match(identifier)
    if not match:
        raise ParseError(f"unrecognised bill number {identifier!r}")
    return match.group(1).lower(), int(match.group(2))


def session_key(state: str, session: str) -> str:
    """An Open States session identifier or a LegiScan session name → the middle part."""
    state = state.lower()
    if state not in NUMBERED_SESSIONS:
        year = re.search(r"(?:19|20)\d{2}", session)
        if year:
            return year.group(0)
    if state in LEGISLATURE_YEARS:
        base, digits = LEGISLATURE_YEARS[state]
        legislature = re.match(rf"\s*(\d{{1,{digits}}})", session)
        if legislature:
            return str(base + 2 * int(legislature.group(1)))
    number = re.match(r"\s*(\d+)", session)
    if not number:
        raise ParseError(f"cannot read a session number from {session!r} ({state})")
    return str(int(number.group(1)))


def state_identity(state: str, session: str, identifier: str) -> str:
    kind, number = split_bill_number(identifier)
    return f"{state.lower()}/{session_key(state, session)}/{kind}/{number}"


# the Second Circuit prints a case type and marks a consolidated appeal's lead case (24-1025-cr,
# 21-2737(L), 15-3135-cv (L)), the Eighth lists every consolidated appeal (24-2330, 24-2526);
# CourtListener keeps them, PACER and GovInfo name the (lead) case 24-1025, 24-2330
_APPELLATE_DOCKET = re.compile(r"^(ca\d+|cadc|cafc)/(\d{2})-0*(\d+)(?:-[a-z]{2})?(?:\s*\([a-z]+\))?(?:\s*[,&;].*)?$")
_DISTRICT_DOCKET = re.compile(r"^([a-z]+)/(\d+):(\d{2})-([a-z]{1,4})-0*(\d+)(?:-[a-z]+)*$")


def canonical_identity(identity: str) -> str:
    """An identity as a person writes it, as the sources store it, so a pin follows the item:
    ``us/119/s/03470`` → ``us/119/s/3470``, GovInfo's ``ca9/25-00412`` → ``ca9/25-412``, PACER's
    ``nysd/1:18-cv-3355-JMF`` → ``nysd/1:18-cv-03355`` (five digits, no judge's initials),
    CourtListener's ``ca2/24-1025-cr``, ``ca2/21-2737(L)`` and ``ca8/24-2330, 24-2526`` → ``ca2/24-1025``,
    ``ca2/21-2737``, ``ca8/24-2330`` (the lead case)."""
    identity = identity.strip().lower()
    if appellate := _APPELLATE_DOCKET.match(identity):
        court, year, number = appellate.groups()
        return f"{court}/{year}-{int(number)}"
    if district := _DISTRICT_DOCKET.match(identity):
        court, office, year, kind, number = district.groups()
        return f"{court}/{office}:{year}-{kind}-{int(number):05d}"
    parts = identity.split("/")
    if len(parts) != 4:
        return identity
    try:
        kind, number = split_bill_number(parts[2] + parts[3])
    except ParseError:
        return identity
    return "/".join((parts[0], str(int(parts[1])) if parts[1].isdigit() else parts[1], kind, str(number)))
