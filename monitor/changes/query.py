"""The watchlist query language: parsed once by a recursive-descent parser, then cheap per document.

Grammar (operators are upper-case; everything else is case- and accent-insensitive)::

    query    := or_expr EOF                    the empty query matches nothing
    or_expr  := and_expr ( "OR" and_expr )*
    and_expr := unary ( ["AND"] unary )*       juxtaposition is AND
    unary    := "NOT" unary | primary
    primary  := "(" or_expr ")" | field | TERM | PHRASE
    field    := NAME ":" value ( "|" value )*  no spaces around ':' and '|'; '|' is OR of values
    value    := TERM | PHRASE
    TERM     := a run of characters other than space ( ) " : |, optionally ending in '*'
    PHRASE   := '"' any characters but '"' '"'

Precedence: NOT binds tightest, then AND, then OR: ``a OR b c`` is ``a OR (b AND c)``.

Terms and phrases match whole words in the title, summary and text: ``ice`` matches "ICE"
but not "police"; ``immigra*`` matches "immigration" and "immigrant"; ``"qualified immunity"``
matches the two words in a row. Punctuation is ignored, so ``"42 U.S.C. 1983"`` also matches
"42 U.S.C. § 1983".

Fields:

- ``kind:bill|opinion|docket|entry|document|article`` and ``status:enacted`` (the normalised
  ladder names), ``source:ID``, ``jurisdiction:us``, ``court:ca9``, ``identity:us/119/s/3470``:
  exact values (a trailing ``*`` makes a prefix, e.g. ``identity:il/104/*``);
- ``title:"…"``: a term or phrase in the title only;
- ``cites:"596 U.S. 482"`` / ``cites:"42 U.S.C. § 1983"``: documents that cite that case or
  statute however it is written, as found by eyecite (the Free Law Project's citation
  extractor), plus the spelled-out "section 1983 of title 42". Citations are extracted once
  per document, and only when the cheaper parts of the query have not already decided.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from monitor.errors import QueryError
from monitor.normalise.statuses import ALL_STATUSES

ITEM_KINDS = ("article", "bill", "docket", "document", "entry", "opinion")
EXACT_FIELDS = ("kind", "status", "source", "jurisdiction", "court", "identity")
FIELDS = (*EXACT_FIELDS, "title", "cites")
OPERATORS = ("AND", "OR", "NOT")  # in any case: `and`, `Or`
MAX_DEPTH = 100
MIN_PREFIX = 2
_WORD = re.compile(r"[^\W_]+")
_SPECIAL = set(' \t\r\n()":|')
# eyecite does not read "section 1983 of title 42"; statutes are cited that way in prose.
_SPELLED_STATUTE = re.compile(r"\bsection\s+(\d+[a-z]?)(?:\([^)]*\))*\s+of\s+title\s+(\d+)\b", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower-case and strip accents, so ``Hernández`` matches ``hernandez``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``; punctuation and symbols separate words and are dropped."""
    return _WORD.findall(fold(text))


@dataclass
class MatchDoc:
    """What a query can see of an item; derived forms (words, citations) are computed once."""

    key: str
    kind: str
    source: str
    title: str = ""
    summary: str = ""
    text: str = ""
    identity: str | None = None
    jurisdiction: str | None = None
    court: str | None = None
    status: str | None = None
    status_action: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    _words: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict, repr=False)
    _citations: frozenset[str] | None = field(default=None, repr=False)

    def body(self) -> str:
        return "\n".join(p for p in (self.title, self.summary, self.text) if p)

    def word_index(self, scope: str = "all") -> tuple[frozenset[str], str]:
        """(set of words, the words joined by single spaces with a space at each end) for the scope."""
        if scope not in self._words:
            if scope == "title":
                source = self.title
            elif scope == "brief":  # what muted patterns look at (monitor.changes.match)
                source = "\n".join(p for p in (self.title, self.summary, self.status_action) if p)
            else:
                source = self.body()
            found = words(source)
            self._words[scope] = (frozenset(found), f" {' '.join(found)} ")
        return self._words[scope]

    def citations(self) -> frozenset[str]:
        """Canonical keys of every case and statute the document cites (eyecite; slow, so cached)."""
        if self._citations is None:
            self._citations = extract_citations(self.body())
        return self._citations


Matcher = Callable[[MatchDoc], bool]


# -- citations ---------------------------------------------------------------------------

def _compact(text: str) -> str:
    return re.sub(r"[\s.]", "", text).casefold()


def extract_citations(text: str) -> frozenset[str]:
    """``{"596|us|482", "42|usc|1983", …}``: volume|reporter|page for cases, title|code|section for laws."""
    if not text:
        return frozenset()
    from eyecite import get_citations
    from eyecite.models import FullCaseCitation, FullLawCitation

    keys: set[str] = set()
    for citation in get_citations(text):
        groups = citation.groups
        if isinstance(citation, FullCaseCitation) and groups.get("volume") and groups.get("page"):
            reporter = citation.corrected_reporter() or groups.get("reporter", "")  # type: ignore[no-untyped-call]
            keys.add(f"{groups['volume']}|{_compact(reporter)}|{groups['page']}")
        elif isinstance(citation, FullLawCitation) and groups.get("section"):
            section = groups["section"].split("(")[0].strip()
            keys.add(f"{groups.get('title', '')}|{_compact(groups.get('reporter', ''))}|{section}")
    for section, title in _SPELLED_STATUTE.findall(text):
        keys.add(f"{title}|usc|{section}")
    return frozenset(keys)


# -- syntax tree ---------------------------------------------------------------------------

class Node:
    """A compiled query node: call it on a MatchDoc. ``cost`` orders AND/OR operands cheap-first."""

    cost = 1

    def __call__(self, doc: MatchDoc) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Words(Node):
    """A term, a phrase or a prefix, in the whole document or only the title."""

    words: tuple[str, ...]
    prefix: bool = False
    scope: str = "all"

    def __call__(self, doc: MatchDoc) -> bool:
        vocabulary, joined = doc.word_index(self.scope)
        if len(self.words) == 1 and not self.prefix:
            return self.words[0] in vocabulary
        if len(self.words) == 1:
            return any(w.startswith(self.words[0]) for w in vocabulary)
        needle = " " + " ".join(self.words)
        return (needle in joined) if self.prefix else (needle + " " in joined)

    def __str__(self) -> str:
        text = " ".join(self.words) + ("*" if self.prefix else "")
        text = f'"{text}"' if len(self.words) > 1 else text
        return f"title:{text}" if self.scope == "title" else text


@dataclass(frozen=True)
class Exact(Node):
    """``kind:``, ``status:``, ``source:``, ``jurisdiction:``, ``court:``, ``identity:``."""

    field: str
    values: tuple[str, ...]
    prefixes: tuple[str, ...] = ()

    def __call__(self, doc: MatchDoc) -> bool:
        value = getattr(doc, self.field)
        if not value:
            return False
        value = fold(value)
        return value in self.values or any(value.startswith(p) for p in self.prefixes)

    def __str__(self) -> str:
        return f"{self.field}:" + "|".join([*self.values, *(p + "*" for p in self.prefixes)])


@dataclass(frozen=True)
class Cites(Node):
    keys: frozenset[str]
    shown: str
    cost = 100

    def __call__(self, doc: MatchDoc) -> bool:
        return not self.keys.isdisjoint(doc.citations())

    def __str__(self) -> str:
        return f'cites:"{self.shown}"'


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    @property
    def cost(self) -> int:  # type: ignore[override]
        return self.operand.cost

    def __call__(self, doc: MatchDoc) -> bool:
        return not self.operand(doc)

    def __str__(self) -> str:
        return f"NOT {self.operand}"


@dataclass(frozen=True)
class Junction(Node):
    """AND or OR of its operands, tried cheapest first so the answer comes before the slow ones."""

    operands: tuple[Node, ...]
    operator: ClassVar[str]
    combine: ClassVar[Callable[[Iterable[bool]], bool]]

    @property
    def cost(self) -> int:  # type: ignore[override]
        return sum(o.cost for o in self.operands)

    def __call__(self, doc: MatchDoc) -> bool:
        return type(self).combine(o(doc) for o in sorted(self.operands, key=lambda o: o.cost))

    def __str__(self) -> str:
        return "(" + f" {self.operator} ".join(str(o) for o in self.operands) + ")"


class And(Junction):
    operator = "AND"
    combine = all


class Or(Junction):
    operator = "OR"
    combine = any


class Nothing(Node):
    """The empty query: a watchlist of pinned identities only."""

    def __call__(self, doc: MatchDoc) -> bool:
        return False

    def __str__(self) -> str:
        return ""


# -- lexer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    type: str  # WORD PHRASE FIELD LPAREN RPAREN PIPE OP EOF
    text: str
    column: int  # 1-based
    values: tuple[Token, ...] = ()  # a FIELD's values


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; a field and its ``|``-separated values are one FIELD token."""
    tokens: list[Token] = []
    i, n = 0, len(query)

    def error(message: str, at: int) -> QueryError:
        return QueryError(message, query=query, column=at + 1)

    def phrase(at: int) -> tuple[Token, int]:
        end = query.find('"', at + 1)
        if end < 0:
            raise error('unterminated phrase: expected a closing \'"\'', at)
        return Token("PHRASE", query[at + 1:end], at + 1), end + 1

    def word(at: int) -> tuple[Token, int]:
        end = at
        while end < n and query[end] not in _SPECIAL:
            end += 1
        return Token("WORD", query[at:end], at + 1), end

    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()|":
            tokens.append(Token({"(": "LPAREN", ")": "RPAREN", "|": "PIPE"}[c], c, i + 1))
            i += 1
        elif c == '"':
            token, i = phrase(i)
            tokens.append(token)
        elif c == ":":
            raise error("expected a field name before ':' (e.g. kind:bill)", i)
        else:
            token, i = word(i)
            if i < n and query[i] == ":":
                values: list[Token] = []
                while True:
                    i += 1  # past the ':' or the '|'
                    if i < n and query[i] == '"':
                        value, i = phrase(i)
                    elif i < n and query[i] not in _SPECIAL:
                        value, i = word(i)
                    else:
                        after = "'|'" if values else f"'{token.text}:'"
                        raise error(f"expected a value after {after} (no space; e.g. kind:bill|opinion)", i)
                    values.append(value)
                    if i >= n or query[i] != "|":
                        break
                tokens.append(Token("FIELD", token.text, token.column, tuple(values)))
            elif token.text.upper() in OPERATORS:  # `bivens or ftca` means what it says
                tokens.append(Token("OP", token.text.upper(), token.column))
            else:
                tokens.append(token)
    tokens.append(Token("EOF", "", n + 1))
    return tokens


# -- parser --------------------------------------------------------------------------------

class Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.pos = 0
        self.depth = 0  # open parentheses and NOTs: bounded, so no query can exhaust the stack

    def deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", token)

    def error(self, message: str, token: Token | None = None) -> QueryError:
        token = token or self.peek()
        return QueryError(message, query=self.query, column=token.column)

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_op(self, name: str) -> bool:
        token = self.peek()
        return token.type == "OP" and token.text == name

    def parse(self) -> Node:
        if self.peek().type == "EOF":
            return Nothing()
        node = self.or_expr()
        token = self.peek()
        if token.type == "RPAREN":
            raise self.error("unexpected ')' with no matching '('")
        if token.type != "EOF":  # pragma: no cover - every other token starts a unary
            raise self.error(f"unexpected {token.text!r}")
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.at_op("OR"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.unary()]
        while True:
            if self.at_op("AND"):
                self.advance()
            elif self.peek().type in ("EOF", "RPAREN") or self.at_op("OR"):
                break
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Node:
        if self.at_op("NOT"):
            self.deeper(self.advance())
            node: Node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token.type == "LPAREN":
            self.deeper(self.advance())
            if self.peek().type == "RPAREN":
                raise self.error("empty parentheses: expected a term, phrase or field")
            node = self.or_expr()
            if self.peek().type != "RPAREN":
                raise self.error(f"missing ')' for the '(' at column {token.column}")
            self.advance()
            self.depth -= 1
            return node
        if token.type == "FIELD":
            return self.field()
        if token.type in ("WORD", "PHRASE"):
            self.advance()
            return self.words(token, scope="all")
        what = {"EOF": "the end of the query", "RPAREN": "')'", "PIPE": "'|'"}.get(token.type, repr(token.text))
        raise self.error(f"expected a term, phrase, field or '(' but found {what}")

    def words(self, token: Token, *, scope: str) -> Node:
        text = token.text
        prefix = token.type == "WORD" and text.endswith("*")
        if "*" in (text[:-1] if prefix else text) and token.type == "WORD":
            raise self.error("a wildcard '*' may only end a term (e.g. immigra*)", token)
        found = tuple(words(text[:-1] if prefix else text))
        if not found:
            raise self.error("empty phrase" if token.type == "PHRASE" else f"{text!r} has no letters or digits",
                             token)
        if prefix and len(found[-1]) < MIN_PREFIX:
            raise self.error(f"a wildcard needs at least {MIN_PREFIX} letters before '*'", token)
        return Words(found, prefix=prefix, scope=scope)

    def field(self) -> Node:
        name_token = self.advance()
        name = name_token.text.lower()
        if name not in FIELDS:
            raise self.error(f"unknown field {name_token.text!r} (expected one of: {', '.join(FIELDS)})", name_token)
        values = list(name_token.values)
        if name == "title":
            nodes = [self.words(v, scope="title") for v in values]
            return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))
        if name == "cites":
            return self.cites(values)
        exact, prefixes = [], []
        for value in values:
            text = fold(value.text.strip())
            if text.endswith("*") and value.type == "WORD":
                if len(text) < 2:
                    raise self.error("a wildcard needs at least one character before '*'", value)
                prefixes.append(text[:-1])
                continue
            allowed = {"kind": ITEM_KINDS, "status": tuple(sorted(ALL_STATUSES))}.get(name)
            if allowed is not None and text not in allowed:
                raise self.error(f"unknown {name} {value.text!r} (expected one of: {', '.join(allowed)})", value)
            exact.append(text)
        return Exact(name, tuple(exact), tuple(prefixes))

    def cites(self, values: list[Token]) -> Node:
        keys: set[str] = set()
        for value in values:
            found = extract_citations(value.text)
            if not found:
                raise self.error(f"no case or statute citation in {value.text!r} "
                                 "(e.g. cites:\"596 U.S. 482\" or cites:\"42 U.S.C. § 1983\")", value)
            keys |= found
        return Cites(frozenset(keys), "|".join(v.text for v in values))


def parse_query(text: str) -> Node:
    """The syntax tree of ``text``; raises QueryError (with a 1-based column) on a syntax error."""
    return Parser(text).parse()


def compile_query(text: str) -> Matcher:
    """Parse once; the result is called on each changed item's MatchDoc."""
    return parse_query(text)
