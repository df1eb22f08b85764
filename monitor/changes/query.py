"""The watchlist query language (README, "Query language"): a lark grammar, parsed once per watchlist
into matcher nodes, so matching a changed item is Python calls on words indexed once per item."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args

from monitor.errors import QueryError
from monitor.normalise.identity import canonical_identity
from monitor.normalise.statuses import ALL_STATUSES

ITEM_KINDS = ("article", "bill", "docket", "document", "entry", "opinion")
FIELDS = ("kind", "status", "source", "jurisdiction", "court", "identity", "title", "cites")
MAX_DEPTH = 100
MIN_PREFIX = 2
_WORD = re.compile(r"[^\W_]+")
# eyecite does not read "section 1983 of title 42"; statutes are cited that way in prose.
_SPELLED_STATUTE = re.compile(r"\bsection\s+(\d+[a-z]?)(?:\([^)]*\))*\s+of\s+title\s+(\d+)\b", re.IGNORECASE)
# "42 U.S.C. 1983", "42 USC 1983", "42 U.S.C.A. § 1983": the forms eyecite misses (no section sign) or keys
# apart (West's annotated code is the same statute), so every one is also keyed as the U.S. Code.
_USC = r"\b(\d+)\s*U\.?\s?S\.?\s?C\.?(?:\s?A\.?)?\s*"
_SECTION = r"\d+[a-z]{0,3}(?:-\d+[a-z]?)?\b"  # 1983, 1985a, 2000bb-1, 2000e-2
_US_CODE = re.compile(rf"{_USC}(?:§+|sec(?:tion)?s?\.?)?\s*({_SECTION})", re.IGNORECASE)
# "42 U.S.C. §§ 1983, 1985(3) and 1986": eyecite keeps the first section only. A list goes on while
# the next number is not the title of another citation ("…, and 28 U.S.C. § 1331").
_US_CODE_LIST = re.compile(rf"{_USC}(?:§§|sections|secs\.?)\s*({_SECTION}(?:\([^)]*\))*"
                           rf"(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+){_SECTION}(?!\s*U\.?\s?S)(?:\([^)]*\))*)+)",
                           re.IGNORECASE)
# "28 U.S.C. §§ 2671-2680" (the FTCA) cites each section from 2671 to 2680; a longer span is not a range.
_RANGE = re.compile(r"(\d+)-(\d+)")
MAX_RANGE = 100

# NOT binds tightest, then AND (also written as nothing), then OR. Operators are words in any case
# (`bivens or ftca`), so never a term. A field's values follow its ':' and '|' with no space; there an
# operator word is a plain value (`title:not`), which is why values are their own terminal.
GRAMMAR = r"""
start: or_expr?
?or_expr: and_expr (_OR and_expr)*
?and_expr: unary (_AND? unary)*
?unary: NOT unary -> negation
      | LPAR or_expr ")" -> group
      | FIELD value (PIPE value)* -> field
      | (TERM | PHRASE) -> words
?value: VALUE | PHRASE

_OR.3: /OR(?![^ \t\r\n()"|])/i
_AND.3: /AND(?![^ \t\r\n()"|])/i
NOT.3: /NOT(?![^ \t\r\n()"|])/i
FIELD.2: /[^ \t\r\n()":|]+:/
TERM: /(?!(?:AND|OR|NOT)(?![^ \t\r\n()"|]))[^ \t\r\n()":|]+/i
VALUE.5: /[^ \t\r\n()":|]+/
PHRASE: /"[^"]*"/
LPAR: "("
PIPE: "|"
SPACE.4: /\s+/
%ignore SPACE
"""


def fold(text: str) -> str:
    """Lower-case and strip accents, so ``Hernández`` matches ``hernandez``."""
    if text.isascii():  # most text: nothing to strip, and far quicker
        return text.casefold()
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
        """Keys of every case and statute the document cites (the Free Law Project's eyecite; slow, so cached)."""
        if self._citations is None:
            self._citations = extract_citations(self.body())
        return self._citations


def _compact(text: str) -> str:
    return re.sub(r"[\s.]", "", text).casefold()


def extract_citations(text: str) -> frozenset[str]:
    """``{"596|us|482", "42|usc|1983", …}``: volume|reporter|page for cases, title|code|section for laws."""
    if not text:
        return frozenset()
    # eyecite is slow to import (its reporter tables): only a text searched for citations loads it
    from eyecite import get_citations
    from eyecite.models import FullCaseCitation, FullLawCitation

    text = text.replace("\u2013", "-").replace("\u2014", "-")  # "§§ 2671–2680" is written with an en dash too
    keys: set[str] = set()
    for citation in get_citations(text):
        groups = citation.groups
        if isinstance(citation, FullCaseCitation) and groups.get("volume") and groups.get("page"):
            reporter = citation.corrected_reporter() or groups.get("reporter", "")  # type: ignore[no-untyped-call]
            keys.add(f"{groups['volume']}|{_compact(reporter)}|{groups['page']}")
        elif isinstance(citation, FullLawCitation) and groups.get("section"):
            section = groups["section"].split("(")[0].strip()
            title = groups.get("title") or groups.get("chapter", "")  # eyecite calls C.F.R.'s title its chapter
            keys.add(f"{title}|{_compact(groups.get('reporter', ''))}|{section}")
    for section, title in _SPELLED_STATUTE.findall(text):
        keys.add(f"{title}|usc|{section}")
    for title, section in _US_CODE.findall(text):
        keys.add(f"{title}|usc|{section}")
    for title, listed in _US_CODE_LIST.findall(text):
        keys.update(f"{title}|usc|{section}" for section in re.findall(_SECTION, re.sub(r"\([^)]*\)", "", listed)))
    for key in list(keys):
        prefix, _, section = key.rpartition("|")
        if (span := _RANGE.fullmatch(section)) and 0 < int(span[2]) - int(span[1]) <= MAX_RANGE:
            keys.update(f"{prefix}|{n}" for n in range(int(span[1]), int(span[2]) + 1))
    return frozenset(keys)


@dataclass(frozen=True)
class Node:
    """A compiled query part: call it on a MatchDoc. ``cost`` orders AND/OR operands cheap-first;
    ``depth`` counts the parentheses and NOTs inside, bounded so no tree is too deep to match."""

    cost: int = field(default=1, kw_only=True, compare=False, repr=False)
    depth: int = field(default=0, kw_only=True, compare=False, repr=False)

    def __call__(self, doc: MatchDoc) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Words(Node):
    """A term, a phrase or a prefix (folded words joined by spaces), in the whole document or the title."""

    words: str
    prefix: bool = False
    scope: str = "all"

    def __call__(self, doc: MatchDoc) -> bool:
        vocabulary, joined = doc.word_index(self.scope)
        if self.prefix:
            return f" {self.words}" in joined
        if " " in self.words:
            return f" {self.words} " in joined
        return self.words in vocabulary


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
        return value in self.values or value.startswith(self.prefixes)


@dataclass(frozen=True)
class Cites(Node):
    keys: frozenset[str]

    def __call__(self, doc: MatchDoc) -> bool:
        return not self.keys.isdisjoint(doc.citations())


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def __call__(self, doc: MatchDoc) -> bool:
        return not self.operand(doc)


@dataclass(frozen=True)
class And(Node):
    operands: tuple[Node, ...]  # cheapest first, so the answer comes before the slow ones

    def __call__(self, doc: MatchDoc) -> bool:
        return all(o(doc) for o in self.operands)


@dataclass(frozen=True)
class Or(Node):
    operands: tuple[Node, ...]  # cheapest first

    def __call__(self, doc: MatchDoc) -> bool:
        return any(o(doc) for o in self.operands)


NOTHING = Or(())  # the empty query, true of no document: a watchlist of pinned identities only


def _junction(kind: type[And | Or], operands: Sequence[Node]) -> Node:
    return kind(tuple(sorted(operands, key=lambda o: o.cost)), cost=sum(o.cost for o in operands),
                depth=max(o.depth for o in operands))


def _error(message: str, token: Token) -> QueryError:
    return QueryError(message, column=(token.start_pos or 0) + 1)  # compile_query adds the query


def _no_value(after: str, column: int) -> QueryError:
    return QueryError(f"expected a value after '{after}' (no space; e.g. kind:bill|opinion)", column=column)


def _text(token: Token) -> str:
    return token[1:-1] if token.type == "PHRASE" else str(token)


def _deeper(node: Node, token: Token) -> int:
    """One level more than ``node``: bounded, so no query builds a tree too deep to match."""
    if node.depth >= MAX_DEPTH:
        raise _error(f"nested more than {MAX_DEPTH} levels deep", token)
    return node.depth + 1


def _words(token: Token, scope: str) -> Node:
    text, term = _text(token), token.type != "PHRASE"
    if term and len(text) > 1 and text[0] in "-!":  # search engines' exclusion, here it would be a plain word
        raise _error(f"{text!r}: to leave a word out, write NOT {text[1:]}", token)
    if term and any(quote in text for quote in "“”"):  # pasted from a word processor: not a phrase
        raise _error('curly quotes: write a phrase in straight quotes, "like this"', token)
    prefix = text.endswith("*")  # a phrase's last word too: "customs enforce*"
    if "*" in text.removesuffix("*"):
        raise _error("a wildcard '*' may only end a term or a phrase (e.g. immigra*)", token)
    found = tuple(words(text[:-1] if prefix else text))
    if not found:
        raise _error(f"{text!r} has no letters or digits" if term else "empty phrase", token)
    if prefix and len(found[-1]) < MIN_PREFIX:
        raise _error(f"a wildcard needs at least {MIN_PREFIX} letters before '*'", token)
    return Words(" ".join(found), prefix=prefix, scope=scope)


@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    """Builds the nodes as the parser reduces each rule (stateless: one instance serves every parse)."""

    def start(self, node: Node = NOTHING) -> Node:
        return node

    def or_expr(self, *operands: Node) -> Node:
        return _junction(Or, operands)

    def and_expr(self, *operands: Node) -> Node:
        return _junction(And, operands)

    def negation(self, token: Token, operand: Node) -> Node:
        return Not(operand, cost=operand.cost, depth=_deeper(operand, token))

    def group(self, token: Token, node: Node) -> Node:
        return dataclasses.replace(node, depth=_deeper(node, token))

    def words(self, token: Token) -> Node:
        return _words(token, "all")

    def field(self, *children: Token) -> Node:
        for before, token in itertools.pairwise(children):
            if token.start_pos != before.end_pos:  # a space after the ':' or around a '|'
                if token.type == "PIPE":
                    raise _error("expected a term, phrase, field or '(' but found '|'", token)
                raise _no_value(before, (before.end_pos or 0) + 1)
        name, values = children[0][:-1].lower(), children[1::2]
        if name not in FIELDS:
            raise _error(f"unknown field {children[0][:-1]!r} (expected one of: {', '.join(FIELDS)})", children[0])
        if name == "title":
            nodes = [_words(v, "title") for v in values]
            return nodes[0] if len(nodes) == 1 else _junction(Or, nodes)
        if name == "cites":
            keys: set[str] = set()
            for value in values:
                if not (found := extract_citations(_text(value))):
                    raise _error(f"no case or statute citation in {_text(value)!r} "
                                 "(e.g. cites:\"596 U.S. 482\" or cites:\"42 U.S.C. § 1983\")", value)
                keys |= found
            return Cites(frozenset(keys), cost=100)  # eyecite is slow: tried last
        exact, prefixes = [], []
        allowed = {"kind": ITEM_KINDS, "status": tuple(sorted(ALL_STATUSES))}.get(name)
        for value in values:
            text = fold(_text(value).strip())
            if text.endswith("*") and value.type == "VALUE":
                if len(text) < 2:
                    raise _error("a wildcard needs at least one character before '*'", value)
                prefixes.append(text[:-1])
            elif allowed is not None and text not in allowed:
                raise _error(f"unknown {name} {_text(value)!r} (expected one of: {', '.join(allowed)})", value)
            else:
                exact.append(canonical_identity(text) if name == "identity" else text)
        return Exact(name, tuple(exact), tuple(prefixes))


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", transformer=_Build())


def _syntax_error(query: str, exc: UnexpectedInput) -> QueryError:
    """lark's error, said in the query's terms, at the column where the query goes wrong."""
    token: Any = getattr(exc, "token", None)
    at = len(query) if token is not None and token.type == "$END" else int(exc.pos_in_stream or 0)
    before = query[:at].rstrip()
    if isinstance(exc, UnexpectedCharacters) and query[at] == '"':
        return QueryError("unterminated phrase: expected a closing '\"'", column=at + 1)
    if before.endswith(("|", ":")):  # only a field's name or a '|' end that way: a value must follow
        name = re.split(r'[ \t\r\n()"]', before)[-1].lstrip()
        return _no_value("|" if before.endswith("|") else name, len(before) + 1)
    if isinstance(exc, UnexpectedCharacters):  # the only other character no token starts with
        spaced = re.search(r'([^ \t\r\n()":|]+:)[ \t\r\n]+[^ \t\r\n()":|]+$', before)
        if spaced:  # 'kind: status:x': the first field's value is what is missing, not a name
            return _no_value(spaced.group(1), spaced.end(1) + 1)
        return QueryError("expected a field name before ':' (e.g. kind:bill)", column=at + 1)
    if isinstance(exc, UnexpectedToken) and token.type == "$END" and "RPAR" in exc.expected:
        opened = [t for t in exc.interactive_parser.parser_state.value_stack
                  if isinstance(t, Token) and t.type == "LPAR"]
        return QueryError(f"missing ')' for the '(' at column {(opened[-1].start_pos or 0) + 1}", column=at + 1)
    if token is not None and token.type == "RPAR" and before.endswith("("):
        return QueryError("empty parentheses: expected a term, phrase or field", column=at + 1)
    if isinstance(exc, UnexpectedToken) and token.type == "RPAR" and "$END" in exc.expected:
        return QueryError("unexpected ')' with no matching '('", column=at + 1)
    found = "the end of the query" if token is None or token.type == "$END" else repr(token.upper())
    return QueryError(f"expected a term, phrase, field or '(' but found {found}", column=at + 1)


def compile_query(text: str) -> Node:
    """The matcher of ``text``, called on each changed item's MatchDoc; QueryError with a 1-based column."""
    try:
        return cast(Node, _parser().parse(text))
    except UnexpectedInput as exc:
        error = _syntax_error(text, exc)
    except QueryError as exc:
        error = exc
    error.query = text
    raise error from None
