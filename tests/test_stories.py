"""Grouping articles into stories: one event from several outlets together, the rest apart."""

from __future__ import annotations

from pathlib import Path

from bot.digest.stories import StoryInput, group_stories, similarity

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

QUAKE_A = (
    "Earthquake kills dozens in Valmora",
    "A magnitude 6.8 earthquake struck the coastal city of Valmora early on Tuesday, killing at "
    "least 40 people and destroying hundreds of homes. Rescue teams searched collapsed buildings "
    "in the old town through the night, and the regional governor declared a state of emergency. "
    "Aftershocks forced thousands of residents to sleep in parks.",
)
QUAKE_B = (
    "Valmora quake: rescuers race to find survivors",
    "Rescuers in Valmora dug through rubble on Wednesday looking for survivors of the earthquake "
    "that flattened much of the city's old town. The governor said the death toll from the "
    "magnitude 6.8 quake had risen to 52, and that hundreds of homes had been destroyed. "
    "Residents spent a second night outside for fear of aftershocks.",
)
FOOTBALL = (
    "United beat City in late derby drama",
    "A stoppage-time header from the captain gave United a 2-1 win over City in the derby on "
    "Sunday. City had led through a first-half penalty, but the home side pressed after the break "
    "and the manager praised his players' spirit. The result lifts United to third in the league "
    "table, two points behind the leaders.",
)
RATES = (
    "Central bank holds interest rates",
    "The central bank left its main interest rate unchanged at 4.5% on Thursday, saying inflation "
    "was falling more slowly than expected. Economists had predicted the decision, although two "
    "members of the rate-setting committee voted for a cut. Mortgage lenders said borrowing costs "
    "for households were unlikely to change before the summer.",
)


def _inputs(*docs: tuple[str, str]) -> list[StoryInput[int]]:
    return [StoryInput(title, text, i) for i, (title, text) in enumerate(docs)]


def _groups(*docs: tuple[str, str]) -> list[list[int]]:
    return [[m.item for m in group] for group in group_stories(_inputs(*docs))]


def test_two_reports_of_one_earthquake_group_together() -> None:
    assert _groups(QUAKE_A, FOOTBALL, QUAKE_B, RATES) == [[0, 2], [1], [3]]


def test_unrelated_stories_stay_apart() -> None:
    assert _groups(FOOTBALL, RATES) == [[0], [1]]
    assert similarity(FOOTBALL, RATES) < similarity(QUAKE_A, QUAKE_B)


def test_same_topic_different_event_stays_apart() -> None:
    other_match = (
        "Rovers held to goalless draw at Albion",
        "Rovers and Albion shared a goalless draw on Saturday in a match of few chances. The "
        "visiting goalkeeper made two fine saves in the second half, and Albion's striker hit the "
        "post late on. Both clubs remain in the bottom half of the second division.",
    )
    assert _groups(FOOTBALL, other_match) == [[0], [1]]


def test_seeds_are_one_story() -> None:
    from bot.articles import parse_article

    docs = []
    for name in ("000_b63c83e36970c003.txt", "003_89b01d93bc535f51.txt"):
        article = parse_article(SEEDS / name)
        docs.append((article.title, " ".join(article.paragraphs)))
    assert _groups(docs[0], FOOTBALL, docs[1], RATES, QUAKE_A) == [[0, 2], [1], [3], [4]]


def test_edge_cases() -> None:
    assert group_stories([]) == []
    assert _groups(("", "")) == [[0]]
    # Identical articles (the same file ingested twice) are one story.
    assert _groups(RATES, RATES) == [[0, 1]]
