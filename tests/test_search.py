"""Search over the seeds: exact, typos, accents, numbers, ranking, paging and hostile queries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.archive import Archive
from bot.search import EMPTY_HINT, NO_MORE_HINT, NOTHING_HINT
from bot.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
MALI = "000_b63c83e36970c003.txt"
MACRON = "003_89b01d93bc535f51.txt"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("search")
    shutil.copytree(SEEDS, root / "seeds")
    extra = root / "seeds" / "extra.txt"
    extra.write_text(
        "Café owners protest\n\n"
        "Owners of the Café Sávaré in Lyon protested against the new rent rules.\n\n"
        "author: Zoë Martin\n",
        encoding="utf-8",
    )
    a = Archive.open(Settings(db_path=root / "n.db", articles_dir=root / "seeds"))
    a.ingest()
    yield a
    a.close()


def top(archive: Archive, query: str) -> tuple[str, int, str]:
    hit = archive.search(query).hits[0]
    return Path(hit.article.path).name, hit.paragraph, hit.text


def marked_words(hit) -> list[str]:  # type: ignore[no-untyped-def]
    return [hit.text[s:e] for s, e in hit.spans]


@pytest.mark.parametrize(
    ("query", "article", "paragraph", "fix"),
    [
        ("Bandiagra", MACRON, 11, "Bandiagara"),
        ("mercinaries Bandiagara", MACRON, 11, "mercenaries Bandiagara"),
        ("Kremlyn", MACRON, 6, "Kremlin"),
        ("Timbuktoo", MALI, 0, "Timbuktu"),
        ("Barkane operaton", MACRON, 2, None),  # 4+1 letters: "barkane" 7 letters -> 1 typo
        # A typo in the first letter, when it is the word's only one: replaced, dropped, swapped
        # with the second letter, or a letter typed before it.
        ("Vandiagara", MACRON, 11, "Bandiagara"),
        ("Imbuktu", MALI, 0, "Timbuktu"),
        ("Rkemlin", MACRON, 6, "Kremlin"),
        ("Jkremlin", MACRON, 6, "Kremlin"),
    ],
)
def test_typos_find_their_passage_and_say_did_you_mean(
    archive: Archive, query: str, article: str, paragraph: int, fix: str | None
) -> None:
    result = archive.search(query)
    hit = result.hits[0]
    assert (Path(hit.article.path).name, hit.paragraph) == (article, paragraph)
    if fix:
        assert result.corrected == fix


def test_exact_query_has_no_correction_and_marks_words(archive: Archive) -> None:
    result = archive.search("Wagner mercenaries")
    assert result.corrected is None
    hit = result.hits[0]
    assert {w.lower() for w in marked_words(hit)} == {"wagner", "mercenaries"}
    # every word matched: these passages outrank passages with one of the words
    assert all(s >= 10 for s in [h.score for h in result.hits[:2]])


def test_accents_and_case_do_not_matter(archive: Archive) -> None:
    _, _, text = top(archive, "savare")
    assert "Sávaré" in text
    assert top(archive, "SÁVARÉ")[2] == text
    assert top(archive, "cafe sávare lyon")[0] == "extra.txt"


@pytest.mark.parametrize(
    ("query", "needle"), [("2,700", "2,700"), ("2700", "2,700"), ("4,500", "4,500")]
)
def test_numbers_can_be_searched(archive: Archive, query: str, needle: str) -> None:
    hit = archive.search(query).hits[0]
    assert needle in hit.text
    assert needle in marked_words(hit)


def test_headline_counts_towards_ranking(archive: Archive) -> None:
    # "abandoned" is only in the Macron headline: its passages are found through it.
    result = archive.search("abandoned Barotte")
    assert Path(result.hits[0].article.path).name == MACRON
    assert "Barotte" in result.hits[0].text


def test_article_fields_come_with_the_hit(archive: Archive) -> None:
    hit = archive.search("Bandiagara").hits[0]
    assert hit.article.title == "Has President Macron abandoned Mali to the jihadists?"
    assert hit.article.author == "Thomas Brooke"
    assert hit.article.published is not None
    assert hit.article.published.date().isoformat() == "2023-09-23"


def test_paging_gives_new_hits_and_says_when_there_are_more(archive: Archive) -> None:
    first = archive.search("mali", limit=3)
    second = archive.search("mali", limit=3, offset=3)
    assert first.has_more
    assert len(first.hits) == 3 and second.hits
    assert not {h.passage_id for h in first.hits} & {h.passage_id for h in second.hits}
    assert second.offset == 3
    beyond = archive.search("mali", limit=3, offset=400)
    assert beyond.hits == () and beyond.hint == NO_MORE_HINT and not beyond.has_more


def test_when_no_passage_has_every_word_the_most_words_win(archive: Archive) -> None:
    result = archive.search("Bandiagra mercinaries xylophone")  # two typos and a stranger
    assert (Path(result.hits[0].article.path).name, result.hits[0].paragraph) == (MACRON, 11)
    assert result.hint == "No passage has all the keywords; showing the closest matches."
    assert result.corrected == "Bandiagara mercenaries xylophone"


def test_nothing_matches_gives_a_hint(archive: Archive) -> None:
    result = archive.search("xylophone quasar")
    assert result.hits == () and result.hint == NOTHING_HINT


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "!!! ??? ...",
        '"',
        "*",
        "NEAR(",
        "mali AND NOT wagner",
        '"mali" OR *',
        "'; DROP TABLE passages; --",
        "\x00\x01\x1b[31m",
        "<!channel> &amp; <@U123>",
        "mali " * 2000,
        "x" * 10_000,
        "𝔐𝔞𝔩𝔦 🇫🇷 مالي 马里",
    ],
)
def test_hostile_queries_never_crash(archive: Archive, query: str) -> None:
    result = archive.search(query)
    assert isinstance(result.hits, tuple)
    if not result.hits:
        assert result.hint in (EMPTY_HINT, NOTHING_HINT) or "Only the first" in (result.hint or "")
    assert archive.store.counts()[1] == 19  # nothing was dropped


def test_long_query_is_cut_with_a_note(archive: Archive) -> None:
    result = archive.search("mali " * 2000)
    assert result.hits
    assert "Only the first" in (result.hint or "")


def test_operators_are_words_not_syntax(archive: Archive) -> None:
    # "AND"/"NOT" are plain words: the Mali/Wagner passage is still found.
    result = archive.search("wagner AND mali")
    assert any("Wagner" in h.text for h in result.hits)
