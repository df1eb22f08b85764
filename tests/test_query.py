"""The query language: what a watchlist author writes, what it matches, and how mistakes are reported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.changes.query import MatchDoc, compile_query
from monitor.cli import with_caret
from monitor.errors import QueryError


def doc(title: str = "", summary: str = "", text: str = "", **fields: str) -> MatchDoc:
    values = {"key": "k", "kind": "opinion", "source": "cl-ca9"} | fields
    return MatchDoc(title=title, summary=summary, text=text, **values)


BIVENS_ICE = doc("Bivens claim against ICE officers dismissed", "The court declined to extend Bivens.",
                 kind="opinion", court="ca9", jurisdiction="us", source="cl-ca9")
BILL = doc("Accountability for Federal Law Enforcement Act", "Amends Revised Statutes section 1979.",
           kind="bill", jurisdiction="us", status="in_committee", identity="us/119/s/3470", source="congress")
STATE_BILL = doc("Illinois Bivens Act; Court Access, Safety, and Participation Act",
                 kind="bill", jurisdiction="il", status="enacted", identity="il/104/hb/1312", source="il-bills")
HERNANDEZ = doc("Hernández v. Mesa", "Cross-border shooting; immigration enforcement.", kind="opinion",
                court="scotus", jurisdiction="us")
POLICE = doc("Police misconduct settlement approved", "Justice department notice", kind="document")


@pytest.mark.parametrize(("query", "document", "expected"), [
    ("bivens", BIVENS_ICE, True),
    ("BIVENS", BIVENS_ICE, True),
    ("bivens ice", BIVENS_ICE, True),                       # implicit AND
    ("bivens AND ftca", BIVENS_ICE, False),
    ("bivens OR ftca", BIVENS_ICE, True),
    ("bivens or ftca", BIVENS_ICE, True),                   # operators in any case
    ('"or" bivens', BIVENS_ICE, False),                     # quoted, the word itself
    ('"or"', doc("Stay granted or denied"), True),
    ("NOT bivens", BIVENS_ICE, False),
    ("ice", POLICE, False),                                 # words, not substrings: "police", "justice", "notice"
    ("hernandez", HERNANDEZ, True),                         # accent-insensitive
    ("HERNÁNDEZ", doc("hernandez v. mesa"), True),
    ("immigra*", HERNANDEZ, True),                          # prefix wildcard
    ("immigra*", BIVENS_ICE, False),
    ('"immigration enforce*"', HERNANDEZ, True),            # a phrase's last word may be a prefix too
    ('title:"customs enforce*"', doc("Cheng v. Immigration and Customs Enforcement"), True),
    ('"customs enforce*"', doc("customs enforce the law"), True),
    ('"customs enforce*"', doc("customs officers enforce"), False),
    ('"declined to extend"', BIVENS_ICE, True),             # phrase: words in a row
    ('"extend declined"', BIVENS_ICE, False),
    ('"cross border"', HERNANDEZ, True),                    # punctuation is ignored
    ('"42 U.S.C. 1983"', doc(text="claims under 42 U.S.C. § 1983 fail"), True),
    ("kind:bill", BILL, True),
    ("kind:bill", BIVENS_ICE, False),
    ("kind:bill|opinion", BIVENS_ICE, True),
    ("jurisdiction:us|il|ca kind:bill", STATE_BILL, True),
    ("jurisdiction:ca", STATE_BILL, False),
    ("status:enacted", STATE_BILL, True),
    ("status:enacted", BILL, False),
    ("court:CA9", BIVENS_ICE, True),
    ("source:cl-*", BIVENS_ICE, True),
    ("identity:us/119/s/3470", BILL, True),
    ("identity:il/104/*", STATE_BILL, True),
    ("identity:il/104/*", BILL, False),
    ("identity:us/119/s/03470", BILL, True),                # written as a pin is: the stored identity
    ("identity:ca9/25-00412", doc(identity="ca9/25-412"), True),  # GovInfo's padded docket
    ('title:"bivens act"', STATE_BILL, True),
    ('title:"law enforcement"', BILL, True),
    ("title:extend", BIVENS_ICE, False),                    # only in the summary
    ("kind:bill NOT jurisdiction:us", STATE_BILL, True),
    ("kind:bill NOT jurisdiction:us", BILL, False),
    ("(bivens OR ftca) (kind:opinion court:ca9)", BIVENS_ICE, True),
    ("", BIVENS_ICE, False),                                # empty: pins only
])
def test_matches(query: str, document: MatchDoc, expected: bool) -> None:
    assert compile_query(query)(document) is expected


@pytest.mark.parametrize(("query", "same_as"), [
    ("a OR b c", "a OR (b AND c)"),
    ("a b OR c", "(a AND b) OR c"),
    ("a AND b OR c AND d", "(a AND b) OR (c AND d)"),
    ("NOT a b", "(NOT a) AND b"),
    ("NOT (a OR b)", "NOT ((a) OR (b))"),
    ("NOT NOT a", "NOT (NOT a)"),
    ("(a OR b) c", "((a OR b)) AND c"),
    ('kind:bill title:"no kings" immigra*', 'kind:bill AND title:"no kings" AND immigra*'),
    ("jurisdiction:us|il|ca", "jurisdiction:us|il|ca"),
    ("a or b", "a OR b"),                                   # operators in any case
    ('"or" b', '"or" AND b'),
])
def test_precedence(query: str, same_as: str) -> None:
    assert compile_query(query) == compile_query(same_as)


@pytest.mark.parametrize(("query", "other"), [
    ("a OR b c", "(a OR b) c"),
    ("NOT a b", "NOT (a b)"),
    ('"a b"', "a b"),
    ("kind:bill|opinion", "kind:bill OR kind:opinion"),
])
def test_different_queries_are_different_trees(query: str, other: str) -> None:
    assert compile_query(query) != compile_query(other)


@pytest.mark.parametrize(("query", "column", "message"), [
    ("bivens (ice", 12, "missing ')' for the '(' at column 8"),
    ("bivens )", 8, "unexpected ')'"),
    ("bivens AND", 11, "expected a term, phrase, field or '(' but found the end of the query"),
    ("OR bivens", 1, "but found 'OR'"),
    ("NOT", 4, "found the end of the query"),
    ('title:"no kings', 7, "unterminated phrase"),
    ("kind:", 6, "expected a value after 'kind:'"),
    ("kind: bill", 6, "expected a value after 'kind:'"),
    ("kind:bill|", 11, "expected a value after '|'"),
    ("kind: status:enacted", 6, "expected a value after 'kind:'"),
    ("bivens title: kind:bill", 14, "expected a value after 'title:'"),
    ("kind:bil", 6, "unknown kind 'bil'"),
    ("status:passed", 8, "unknown status 'passed'"),
    ("bivens colour:red", 8, "unknown field 'colour'"),
    ("im*gration", 1, "wildcard '*' may only end a term"),
    ("i*", 1, "at least 2 letters"),
    ('"border* patrol"', 1, "wildcard '*' may only end a term"),
    ("()", 2, "empty parentheses"),
    ("a | b", 3, "found '|'"),
    (': x', 1, "expected a field name"),
    ('cites:"not a citation"', 7, "no case or statute citation"),
    ("hernandez -garland", 11, "'-garland': to leave a word out, write NOT garland"),
    ("court:ca4 !garland", 11, "'!garland': to leave a word out, write NOT garland"),
    ("“qualified immunity”", 1, 'curly quotes: write a phrase in straight quotes, "like this"'),
    ("title:“no kings”", 7, "curly quotes"),
])
def test_syntax_errors_point_at_the_column(query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert info.value.column == column
    assert message in str(info.value)
    lines = with_caret(info.value).splitlines()
    assert lines[1] == f"  {query}"
    assert lines[2].index("^") - 2 == column - 1  # the caret sits under the column


EGBERT = [
    "The Court applied Egbert v. Boule, 596 U. S. 482 (2022), and declined to extend Bivens.",
    "See Egbert v. Boule, 596 U.S. 482, 491 (2022) (new context).",
    "Egbert v. Boule, 596 U.S. 482, 142 S. Ct. 1793, 213 L. Ed. 2d 54 (2022)",
]
SECTION_1983 = [
    "Plaintiffs sue under 42 U. S. C. §1983.",
    "an action under 42 U.S.C. § 1983(a) for damages",
    "The bill amends section 1983 of title 42, United States Code.",
    "Cf. 42 U.S.C. 1983; see also 28 U.S.C. 1331.",  # courts and dockets often drop the section sign
    "Civil rights claim under 42 U.S.C.A. § 1983 (West).",
]


@pytest.mark.parametrize("text", EGBERT)
def test_cites_finds_a_case_however_it_is_written(text: str) -> None:
    assert compile_query('cites:"596 U.S. 482"')(doc(text=text))
    assert not compile_query('cites:"42 U.S.C. § 1983"')(doc(text=text))


@pytest.mark.parametrize("text", SECTION_1983)
def test_cites_finds_a_statute_however_it_is_written(text: str) -> None:
    assert compile_query('cites:"42 U.S.C. § 1983"')(doc(text=text))
    assert not compile_query('cites:"596 U.S. 482"')(doc(text=text))


@pytest.mark.parametrize("query", ['cites:"42 U.S.C. 1983"', 'cites:"42 USC 1983"', 'cites:"42 U.S.C.A. § 1983"'])
def test_a_statute_cited_without_a_section_sign_or_as_usca_is_the_same_statute(query: str) -> None:
    assert compile_query(query)(doc(text="an action under 42 U.S.C. § 1983"))
    assert not compile_query(query)(doc(text="an action under 42 U.S.C. § 1985"))


@pytest.mark.parametrize("text", ["claims under 42 U.S.C. §§ 1983, 1985(3) and 1986",
                                  "claims under 42 U.S.C. sections 1983 and 1985"])
def test_every_section_of_a_list_is_cited(text: str) -> None:
    assert compile_query('cites:"42 U.S.C. § 1983"')(doc(text=text))
    assert compile_query('cites:"42 U.S.C. § 1985"')(doc(text=text))
    assert not compile_query('cites:"42 U.S.C. § 1981"')(doc(text=text))


@pytest.mark.parametrize("query", ['cites:"28 U.S.C. §§ 2671–2680"', 'cites:"28 U.S.C. §§ 2671-2680"'])
@pytest.mark.parametrize("text", ["the FTCA, 28 U.S.C. §§ 2671-2680", "the FTCA, 28 U.S.C. §§ 2671–2680",
                                  "the intentional-tort exception, 28 U.S.C. § 2680(h)",
                                  "the Westfall Act, 28 U.S.C. § 2679(d)(1)"])
def test_a_range_of_sections_cites_every_section_in_it(query: str, text: str) -> None:
    assert compile_query(query)(doc(text=text))
    assert not compile_query(query)(doc(text="28 U.S.C. § 1346(b)"))


def test_a_section_inside_a_cited_range_is_cited() -> None:
    text = "claims under the Federal Tort Claims Act, 28 U.S.C. §§ 1346(b), 2671–2680"
    assert compile_query('cites:"28 U.S.C. § 2680"')(doc(text=text))
    assert compile_query('cites:"28 U.S.C. § 1346"')(doc(text=text))
    assert not compile_query('cites:"28 U.S.C. § 2681"')(doc(text=text))


def test_a_section_with_a_two_letter_suffix_is_cited() -> None:
    text = "damages against federal officers under RFRA, 42 U.S.C. § 2000bb-1(c) (Tanzin v. Tanvir)"
    assert compile_query('cites:"42 U.S.C. § 2000bb-1"')(doc(text=text))
    assert not compile_query('cites:"42 U.S.C. § 2000bb-2"')(doc(text=text))


def test_a_regulation_is_cited_with_its_title() -> None:
    """28 C.F.R. § 14.2 (presenting an FTCA claim) is not 14 C.F.R. § 14.2 (an FAA rule)."""
    assert compile_query('cites:"28 C.F.R. § 14.2"')(doc(text="presented under 28 C.F.R. § 14.2(a)"))
    assert not compile_query('cites:"28 C.F.R. § 14.2"')(doc(text="fees under 14 C.F.R. § 14.2"))


def test_a_list_of_sections_stops_at_the_next_citation() -> None:
    text = "42 U.S.C. §§ 1983, 1985, and 28 U.S.C. § 1331"
    assert compile_query('cites:"28 U.S.C. § 1331"')(doc(text=text))
    assert not compile_query('cites:"42 U.S.C. § 28"')(doc(text=text))


def test_cites_is_not_fooled_by_neighbouring_citations() -> None:
    text = "Compare 597 U.S. 482 and 42 U.S.C. § 1985; see also 596 F.3d 482."
    assert not compile_query('cites:"596 U.S. 482"')(doc(text=text))
    assert not compile_query('cites:"42 U.S.C. § 1983"')(doc(text=text))
    assert compile_query('cites:"597 U.S. 482|42 U.S.C. § 1985"')(doc(text=text))


def test_citations_are_extracted_only_when_cheaper_parts_pass_and_only_once() -> None:
    opinion = doc("Opinion", text="Egbert v. Boule, 596 U.S. 482 (2022)", kind="opinion")
    compile_query('kind:bill cites:"596 U.S. 482"')(opinion)
    assert opinion._citations is None  # kind:bill failed first: eyecite never ran
    assert compile_query('cites:"596 U.S. 482" kind:opinion')(opinion)
    extracted = opinion._citations
    assert extracted is not None and compile_query('cites:"596 U.S. 482"')(opinion)
    assert opinion._citations is extracted


# -- properties ----------------------------------------------------------------------------

VOCABULARY = ["bivens", "ice", "ftca", "immunity", "qualified", "hernández", "court"]
atoms = st.one_of(
    st.sampled_from(VOCABULARY),
    st.sampled_from(["immu*", "biv*", '"qualified immunity"', "kind:bill", "kind:opinion|docket",
                     "jurisdiction:us|il", "title:bivens", 'title:"ice officers"']),
)
queries = st.recursive(atoms, lambda inner: st.one_of(
    st.tuples(inner, inner).map(lambda t: f"{t[0]} {t[1]}"),
    st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
    st.tuples(inner, inner).map(lambda t: f"{t[0]} AND {t[1]}"),
    inner.map(lambda q: f"NOT {q}"),
    inner.map(lambda q: f"({q})"),
), max_leaves=8)
docs = st.builds(
    lambda title, text, kind, jurisdiction: doc(" ".join(title), text=" ".join(text), kind=kind,
                                                jurisdiction=jurisdiction),
    st.lists(st.sampled_from([*VOCABULARY, "ICE", "officers", "Hernandez", "immunities"]), max_size=5),
    st.lists(st.sampled_from([*VOCABULARY, "qualified immunity", "police"]), max_size=6),
    st.sampled_from(["bill", "opinion", "docket"]),
    st.sampled_from(["us", "il", "ca"]),
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab *:|()"-AND OR NOT kind:bill title:é§')), max_size=40))
def test_parsing_never_fails_with_anything_but_a_query_error(text: str) -> None:
    try:
        matcher = compile_query(text)
    except QueryError as exc:
        assert 1 <= exc.column <= len(text) + 1
        return
    matcher(doc("a b", text="ab kind bill"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_unicode_parses_or_raises_query_error(text: str) -> None:
    try:
        compile_query(text)
    except QueryError:
        pass


@settings(max_examples=120, deadline=None)
@given(queries, st.lists(docs, min_size=1, max_size=5))
def test_not_not_q_is_q(query: str, documents: list[MatchDoc]) -> None:
    plain, doubled = compile_query(query), compile_query(f"NOT NOT ({query})")
    negated = compile_query(f"NOT ({query})")
    for document in documents:
        assert doubled(document) == plain(document)
        assert negated(document) != plain(document)
