"""Search that finds what a reporter means (issue 9): word forms, names, short words, money and
percent tokens, bylines, the query syntax, sort, related passages and the ranking rules.

Every article here is written for these tests; each test names the rule it checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import archive_of

from bot.archive import Archive
from bot.models import Hit
from bot.query import parse_query
from bot.search import EMPTY_HINT, NOTHING_HINT, ONLY_EXCLUDED_HINT

ARTICLES = {
    "a_mercenaries.txt": """Mercenaries guard the gold mines of Kidal

Hired mercenaries attacked a convoy near the mines on Tuesday, officials said.

The attacks have hurt the economies of former colonies across the region.

author: Thomas Brooke
source: Desk Wire
url: https://news.test/mercenaries
date: 2023-09-23
""",
    "b_libya.txt": """Libya after the colonel

Supporters of Muammar Gaddafi gathered in Sirte, officials said, and officials counted them.

A delegation flew from Kraków to Tripoli for the talks.

author: Anna Kowalska
date: 2021-03-01
""",
    "c_budget.txt": """Budget figures

The plan costs £42bn over ten years and a further $7.6m for studies, officials said.

Turnout rose to 60% while fees jumped 500% and inflation reached 4.2%.

Some 2,700 workers lost their jobs in the port.

author: Lee Park
date: 2022-05-10
""",
    # exact > word form > typo: the typo passage comes first in index order (file names).
    "d1_lodger.txt": "Camp notes\n\nThe climbers met a lodger near Zanvorra.\n",
    "d2_lodging.txt": "Camp report\n\nThe climbers found lodging near Zanvorra at dusk.\n",
    "d3_lodge.txt": "Camp diary\n\nThe climbers reached the lodge near Zanvorra at last.\n",
    # the closest typo wins: twelve passages two typos away come first in index order.
    **{
        f"e{n:02d}_council.txt": f"Council {n}\n\nThe council reconsiders plan {n}.\n"
        for n in range(12)
    },
    "e99_harbour.txt": "Harbour\n\nThe council reconsidered the harbour plan.\n",
    # a passage with no query word, found through its headline only, comes last
    "f1_reopens.txt": "Gold mine reopens in Sirakoro\n\nWorkers returned on Monday.\n",
    "f2_prices.txt": "Weather report\n\nPrices of gold climbed again this week.\n",
    # related passages
    "g1_floods.txt": """Floods in Port Vesna

Flooding in Port Vesna forced hundreds of families from their homes as the river burst its banks.

More flooding is expected in Port Vesna, where the river burst its banks and families fled.
""",
    "g2_river.txt": """River warning

River flooding near Port Vesna: families leave their homes as the banks burst again.
""",
    "g3_chess.txt": "Chess final\n\nThe chess final in Oslo ended in a draw after six hours.\n",
}


def module_archive(name: str, articles: dict[str, str]):  # type: ignore[no-untyped-def]
    """A module-scoped fixture: ``articles`` ingested once for the module's tests."""

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
        a = archive_of(tmp_path_factory.mktemp(name), articles)
        yield a
        a.close()

    return fixture


archive = module_archive("language", ARTICLES)


def name(hit: Hit) -> str:
    return Path(hit.article.path).name


def marked(hit: Hit) -> list[str]:
    return [hit.text[s:e] for s, e in hit.spans]


def names(archive: Archive, query: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [name(h) for h in archive.search(query, limit=20, **kw).hits]


# -- word forms ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("mercenary", "mercenaries"),
        ("attack", "attacked"),
        ("attacking", "attacked"),
        ("attacks", "attacks"),
        ("economy", "economies"),
        ("colony", "colonies"),
    ],
)
def test_word_forms_find_each_other(archive: Archive, query: str, word: str) -> None:
    result = archive.search(query)
    assert result.hits and name(result.hits[0]) == "a_mercenaries.txt"
    assert word in [w for h in result.hits for w in marked(h)]
    assert result.corrected is None  # a word form is not a typo


def test_word_forms_with_a_typo_in_another_word(archive: Archive) -> None:
    result = archive.search("mercenary convoi")  # "convoy" with one typo
    assert name(result.hits[0]) == "a_mercenaries.txt"
    assert set(marked(result.hits[0])) >= {"mercenaries", "convoy"}
    assert result.corrected == "mercenary convoy"


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query", ["Gadaffi", "Gaddafi", "Gadafi", "Gaddaffi", "Kraków", "Krakow", "krakow", "KRAKÓW"]
)
def test_spellings_of_a_name_find_each_other(archive: Archive, query: str) -> None:
    assert names(archive, query)[:1] == ["b_libya.txt"]


def test_a_lowercase_word_keeps_the_ordinary_budget(archive: Archive) -> None:
    # Two typos in a 7-letter word are forgiven only when it is typed as a name.
    assert archive.search("gadaffi").hits == ()


# -- short words and tokens ----------------------------------------------------------------------
def test_a_four_letter_word_with_a_typo_is_found_when_nothing_matches_exactly(
    archive: Archive,
) -> None:
    result = archive.search("glod")  # gold
    assert result.hits and "gold" in marked(result.hits[0])
    assert result.corrected == "gold"


@pytest.mark.parametrize(
    ("query", "token"),
    [
        ("£42bn", "42bn"),
        ("42bn", "42bn"),
        ("$7.6m", "7.6m"),
        ("7.6m", "7.6m"),
        ("60%", "60"),
        ("500%", "500"),
        ("4.2%", "4.2"),
        ("2,700", "2,700"),
        ("2700", "2,700"),
    ],
)
def test_money_percent_and_number_tokens(archive: Archive, query: str, token: str) -> None:
    hit = archive.search(query).hits[0]
    assert name(hit) == "c_budget.txt"
    assert token in marked(hit)


# -- bylines and headlines -----------------------------------------------------------------------
def test_a_byline_is_searchable(archive: Archive) -> None:
    assert set(names(archive, "Thomas Brooke")) == {"a_mercenaries.txt"}
    assert set(names(archive, "Kowalska")) == {"b_libya.txt"}


@pytest.mark.parametrize(
    "query", ["by:brooke", "author:brooke", "by:Brook", "by:brooek", 'by:"thomas brooke"']
)
def test_by_keeps_only_that_authors_articles(archive: Archive, query: str) -> None:
    assert set(names(archive, f"officials {query}")) == {"a_mercenaries.txt"}
    assert set(names(archive, query)) == {"a_mercenaries.txt"}  # the filter alone


def test_by_an_unknown_author_finds_nothing(archive: Archive) -> None:
    assert archive.search("officials by:nobodyknown").hits == ()


# -- the query syntax ----------------------------------------------------------------------------
def test_phrase_needs_the_words_together_in_order(archive: Archive) -> None:
    assert set(names(archive, '"river burst"')) == {"g1_floods.txt"}
    assert names(archive, '"burst river"') == []
    assert set(names(archive, "“river burst”")) == {"g1_floods.txt"}  # as Slack may send it
    # both words, not together: found without quotes, not with them
    assert "g2_river.txt" in names(archive, "river burst")


def test_exclusion_leaves_out_every_form_of_the_word(archive: Archive) -> None:
    assert "a_mercenaries.txt" in names(archive, "officials")
    assert "a_mercenaries.txt" not in names(archive, "officials -mercenary")
    assert set(names(archive, "officials -gaddafi -mercenaries")) == {"c_budget.txt"}
    assert set(names(archive, 'flooding -"port vesna"')) == set()


def test_an_excluded_phrase_leaves_out_the_phrase_not_its_words(archive: Archive) -> None:
    # g1 has "river burst" (twice); g2 has both words, apart ("the banks burst again").
    assert set(names(archive, "river")) >= {"g1_floods.txt", "g2_river.txt"}
    assert "g1_floods.txt" not in names(archive, 'river -"river burst"')
    assert "g2_river.txt" in names(archive, 'river -"river burst"')
    assert "g2_river.txt" not in names(archive, "river -burst")
    parsed = parse_query('mali -"river burst" -"wagner"')
    assert parsed.excluded_phrases == (("river", "burst"),) and parsed.excluded == ("wagner",)
    # A hyphenated word is one term; repeats do not use up the four phrases.
    assert parse_query("mali -al-qaeda").excluded_phrases == (("al", "qaeda"),)
    repeated = parse_query('x -"a b" -"a b" -"a b" -"a b" -"c d"').excluded_phrases
    assert repeated == (("a", "b"), ("c", "d"))
    assert archive.search('-"river burst"').hint == ONLY_EXCLUDED_HINT


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("officials after:2022-01-01", {"a_mercenaries.txt", "c_budget.txt"}),
        ("officials after:2022-05-10", {"a_mercenaries.txt", "c_budget.txt"}),  # day included
        ("officials after:2022-05-11", {"a_mercenaries.txt"}),
        ("officials before:2022-05-10", {"b_libya.txt", "c_budget.txt"}),  # day included
        ("officials before:2022-05-09", {"b_libya.txt"}),
        ("officials after:2021-06-01 before:2023-01-01", {"c_budget.txt"}),
        ("after:2023-09-23 before:2023-09-23", {"a_mercenaries.txt"}),  # filters alone
    ],
)
def test_date_filters_on_the_published_date(archive: Archive, query: str, expected: set) -> None:
    assert set(names(archive, query)) == expected


def test_date_filter_falls_back_to_first_seen(archive: Archive) -> None:
    # No date line: the day it was first seen (today) counts.
    found = set(names(archive, "chess after:2024-01-01"))
    assert found == {"g3_chess.txt"}
    assert names(archive, "chess before:2024-01-01") == []


def test_filters_combine(archive: Archive) -> None:
    query = 'officials by:brooke after:2023-01-01 -gold "convoy near"'
    assert set(names(archive, query)) == {"a_mercenaries.txt"}
    assert names(archive, 'officials by:brooke before:2023-01-01 "convoy near"') == []
    assert names(archive, "officials by:kowalska -sirte") == []


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("mali after:2023-13-01", "after: needs a date written YYYY-MM-DD, e.g. after:2023-09-01."),
        ("mali before:yesterday", "before: needs a date written YYYY-MM-DD"),
        ("mali after:", "after: needs a date"),
        ("mali by:", "by: needs a name"),
        ("author:!!!", "author: needs a name"),
        ("x after:2024-02-01 before:2024-01-01", "after:2024-02-01 is later than before:"),
    ],
)
def test_a_malformed_filter_gets_a_one_line_hint(archive: Archive, query: str, hint: str) -> None:
    result = archive.search(query)
    assert result.hits == ()
    assert result.hint and result.hint.startswith(hint) and "\n" not in result.hint


def test_queries_that_start_with_a_dash(archive: Archive) -> None:
    assert archive.search("-mercenary").hint == ONLY_EXCLUDED_HINT
    assert "a_mercenaries.txt" not in names(archive, "-convoy officials")
    assert set(names(archive, "-mercenary -gaddafi officials")) == {"c_budget.txt"}
    assert archive.search("- -- ---").hint == EMPTY_HINT


def test_syntax_characters_inside_words_are_words(archive: Archive) -> None:
    assert parse_query("well-known x:y 10:30").text == "well-known x:y 10:30"
    assert parse_query("well-known").excluded == ()
    assert "b_libya.txt" in names(archive, "Gaddafi's")
    assert archive.search('"').hint == EMPTY_HINT
    assert names(archive, '"gold') == names(archive, "gold")  # an unclosed quote: to the end


# -- sort ----------------------------------------------------------------------------------------
def test_newest_first(archive: Archive) -> None:
    relevance = names(archive, "officials")
    newest = names(archive, "officials", sort="newest")
    assert newest == ["a_mercenaries.txt", "c_budget.txt", "b_libya.txt"]
    assert relevance[0] == "b_libya.txt"  # "officials" twice in one short passage
    paged = archive.search("officials", limit=2, offset=1, sort="newest")
    assert [name(h) for h in paged.hits] == newest[1:] and not paged.has_more
    assert archive.search("officials", limit=2, sort="newest").has_more


# -- ranking -------------------------------------------------------------------------------------
def test_exact_before_word_form_before_typo(archive: Archive) -> None:
    assert names(archive, "lodge Zanvora")[:3] == [
        "d3_lodge.txt",
        "d2_lodging.txt",
        "d1_lodger.txt",
    ]
    assert names(archive, "lodge Zanvorra") == ["d3_lodge.txt", "d2_lodging.txt"]


def test_the_closest_typo_wins_not_index_order(archive: Archive) -> None:
    result = archive.search("reconsidred")  # 1 edit from reconsidered, 2 from reconsiders
    assert name(result.hits[0]) == "e99_harbour.txt"
    assert result.corrected == "reconsidered"


def test_a_passage_found_through_its_headline_only_comes_last(archive: Archive) -> None:
    # f1's passage has neither word (its headline has both); f2's passage has "gold", the
    # first of a_mercenaries' has "mines", its second neither (its headline has both).
    found = archive.search("gold mine xylophone", limit=20).hits
    assert [name(h) for h in found[2:]] and {name(h) for h in found[:2]} == {
        "a_mercenaries.txt",
        "f2_prices.txt",
    }
    assert all(not marked(h) for h in found[2:]) and "f1_reopens.txt" in map(name, found[2:])
    # When every passage with all the words has them in its headline only, the passages that
    # have some of the words themselves are shown first.
    kidal = archive.search("gold Kidal", limit=20).hits
    assert name(kidal[0]) in ("f2_prices.txt", "a_mercenaries.txt") and marked(kidal[0])


def test_stop_words_are_never_highlighted(archive: Archive) -> None:
    for h in archive.search("the gold of Kidal", limit=20).hits:
        assert not {w.lower() for w in marked(h)} & {"the", "of", "in"}
    phrase = archive.search('"flooding in port vesna"').hits[0]
    assert {w.lower() for w in marked(phrase)} == {"flooding", "port", "vesna"}


# -- related -------------------------------------------------------------------------------------
def test_related_passages_come_from_other_articles(archive: Archive) -> None:
    source = archive.search('"forced hundreds"').hits[0]
    related = archive.related(source.passage_id)
    assert related is not None and related.hits
    assert name(related.hits[0]) == "g2_river.txt"
    assert all(name(h) != "g1_floods.txt" for h in related.hits)  # never its own article
    assert "g3_chess.txt" not in [name(h) for h in related.hits]
    assert {"flooding", "vesna"} <= {w.lower() for w in marked(related.hits[0])}
    assert len(archive.related(source.passage_id, limit=1).hits) == 1


def test_related_of_a_missing_passage_is_none(archive: Archive) -> None:
    assert archive.related(10**9) is None


def test_nothing_related(archive: Archive) -> None:
    chess = archive.search("chess").hits[0]
    related = archive.related(chess.passage_id)
    assert related is not None and related.hits == () and related.hint
    assert related.hint != NOTHING_HINT


# -- how much a word weighs, however it matched ---------------------------------------------------
WEIGHT_ARTICLES = {
    # A word found in another form weighs as much as the query's other words: the passage about
    # the strike (three forms of it) comes before the one that names the harbour three times.
    "w1_gates.txt": (
        "Port notes\n\nThe harbour master shut the harbour and the harbour gates, and one "
        "crew talked of a strike over pay and rotas.\n"
    ),
    "w2_walkout.txt": (
        "Port dispute\n\nThe harbour strike was the third strike this month, and striking "
        "crews stayed out.\n"
    ),
    # Two forms of one word in a query count once, as typed: the passage with both forms as
    # typed comes first, before twenty passages with one of them and many other forms (which
    # used to count twice, once a query word, and crowd it out of the candidates re-ranked).
    **{
        f"w5_{n:02d}_farms.txt": (
            f"Farms {n}\n\nRaiding crews raided farms, raiding and raided again: "
            f"{'raid' if n % 2 else 'raids'} {n}.\n"
        )
        for n in range(20)
    },
    "w6_border.txt": (
        "Border\n\nOne raid, then two raids on the farms along the border before the winter.\n"
    ),
    "w7_weather.txt": "Weather\n\n"
    + "\n\n".join(f"Rain on day {n} of the month." for n in range(80))
    + "\n",
}


weights = module_archive("weights", WEIGHT_ARTICLES)


def test_a_word_form_match_weighs_as_much_as_an_exact_word(weights: Archive) -> None:
    # Neither passage has "strikes" as typed; both have "harbour".
    assert names(weights, "harbour strikes")[:2] == ["w2_walkout.txt", "w1_gates.txt"]
    # The rule of the ranking tests above still holds: as typed first, other things equal.
    assert names(weights, "harbour strike")[0] == "w2_walkout.txt"


def test_two_forms_of_one_word_in_a_query_count_once(weights: Archive) -> None:
    assert name(weights.search("raid raids", limit=5).hits[0]) == "w6_border.txt"


# -- tiers that BM25 never crosses --------------------------------------------------------------
_FILLER = (
    "The council met on Thursday evening to discuss the annual budget, the state of the roads,"
    " the library opening hours, the new parking rules for the town centre, a proposal to plant"
    " trees along the river path, complaints about noise from the late bars, the cost of the"
    " winter gritting programme"
)
TIER_ARTICLES = {
    # BM25 prefers the short passage with a word form three times to the long one with the
    # word as typed once: the word as typed still comes first.
    "t1_council.txt": f"Council meeting\n\n{_FILLER}, and one attack on a bus driver.\n",
    "t2_drivers.txt": "Bus drivers\n\nBus drivers were attacked, attacked again, and attacked.\n",
    # A word form before a typo, however short the typo's passage.
    "t3_trek.txt": f"Trek diary\n\n{_FILLER}; {_FILLER.lower()}, and the lodging near Zanvorra.\n",
    "t4_note.txt": "Notes\n\nA lodger near Zanvorra.\n",
    # (Lodging is common here, so its BM25 is low: the typo's passage has the higher.)
    "t9_prices.txt": "Lodging prices\n\n"
    + "\n\n".join(f"Lodging prices rose again in week {n}." for n in range(30))
    + "\n",
    # Two words one typo from "banx": the one the passage has more often wins, not the one first
    # in index order.
    "t5_band.txt": f"Brass band\n\n{_FILLER}, and the brass band played.\n",
    "t6_bank.txt": "Lending\n\nThe bank said the bank would lend, and the bank did.\n",
    # A passage whose headline has the word as typed matched through its headline, not through
    # a word of its own one typo away ("fore" for "fire").
    "t7_station.txt": "Fire station closes\n\nThe fore deck was painted blue on Monday.\n",
    # ... but a name spelt otherwise in the story than in its headline is matched in the story.
    "t10_gadaffi.txt": "Gadaffi regime falls\n\nRebels took it.\n\nGaddafi fled Tripoli.\n",
    "t8_blaze.txt": "Warehouse blaze\n\nA fire broke out in a warehouse by the docks overnight.\n",
}
tiers = module_archive("tiers", TIER_ARTICLES)


def test_an_exact_word_comes_before_a_word_form_whatever_bm25_says(tiers: Archive) -> None:
    found = tiers.search("attack bus", limit=5).hits
    assert [name(h) for h in found] == ["t1_council.txt", "t2_drivers.txt"]
    assert found[0].score > found[1].score
    assert "attack" in marked(found[0]) and "attacked" in marked(found[1])


def test_a_word_form_comes_before_a_typo_whatever_bm25_says(tiers: Archive) -> None:
    found = tiers.search("lodge Zanvora", limit=5).hits
    assert [name(h) for h in found] == ["t3_trek.txt", "t4_note.txt"]
    assert found[0].score > found[1].score


def test_among_typo_words_of_one_distance_the_more_frequent_wins(tiers: Archive) -> None:
    found = tiers.search("banx", limit=5).hits
    assert [name(h) for h in found] == ["t6_bank.txt", "t5_band.txt"]


def test_a_word_in_the_headline_is_not_matched_by_a_typo_in_the_passage(tiers: Archive) -> None:
    found = tiers.search("fire station", limit=5).hits
    # The passage that has "fire" itself first; the other matched through its headline only.
    assert [name(h) for h in found] == ["t8_blaze.txt", "t7_station.txt"]
    assert marked(found[0]) == ["fire"] and marked(found[1]) == []


def test_a_name_spelt_otherwise_in_the_story_than_in_the_headline_is_matched(
    tiers: Archive,
) -> None:
    found = tiers.search("Gadaffi", limit=5).hits
    assert found[0].paragraph == 1 and marked(found[0]) == ["Gaddafi"]  # (0-based)


def test_a_query_of_stop_words_only_marks_none_of_them(archive: Archive) -> None:
    for query in ("the", "of the"):
        found = archive.search(query, limit=20).hits
        assert found, query
        assert all(not marked(h) for h in found), query


# -- headline and byline words: typos find them too --------------------------------------------
HEAD_ARTICLES = {
    "h1_drought.txt": "Drought grips Zambezi valley\n\nFarmers say the harvest failed again.\n",
    "h2_envoys.txt": "Libya talks\n\nEnvoys met in Tunis.\n\nauthor: Piotr Nowak\n",
    "h3_other.txt": "Harvest notes\n\nThe harvest was late in the north this year.\n",
    # A byline's surname that a passage of another article has too.
    "h4_river.txt": "River floods\n\nThe river burst its banks.\n\nauthor: Anna Kowalska\n",
    "h5_bridge.txt": "Warsaw\n\nThe mayor, Anna Kowalska, opened the bridge.\n",
}
heads = module_archive("heads", HEAD_ARTICLES)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("grip", "h1_drought.txt"),  # a word form of a headline word, a typo away
        ("valleys", "h1_drought.txt"),
        ("grpis", "h1_drought.txt"),  # a typo of one
        ("Nowack", "h2_envoys.txt"),  # a surname in the byline only, one letter more
        ("Nowa", "h2_envoys.txt"),  # one letter less (a capitalised 4-letter word: one typo)
        ("grips harvest", "h1_drought.txt"),
    ],
)
def test_headline_and_byline_words_no_passage_has_are_found_with_typos(
    heads: Archive, query: str, found: str
) -> None:
    assert names(heads, query)[0] == found


def test_a_mistyped_name_finds_the_byline_though_a_passage_has_the_name(heads: Archive) -> None:
    found = names(heads, "Kowalsak")
    assert found[0] == "h5_bridge.txt" and "h4_river.txt" in found  # in the passage first
    # With another word that nothing matches: the passages with the most words.
    assert "h2_envoys.txt" in names(heads, "Nowack zzqx")


def test_a_mistyped_byline_surname_is_corrected_to_it(heads: Archive) -> None:
    assert heads.search("Nowack").corrected == "Nowak"
    assert heads.search("grpis").corrected == "grips"
