"""Digest content from a real store: window, stories, ranking, bounds, JSON shape."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.digest.build import Digest, build_digest, digest_to_json
from bot.digest.summarize import is_fragment
from bot.models import Article
from bot.store import Store, transaction

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DAY = date(2024, 5, 2)


def _add(store: Store, *articles: Article) -> None:
    with transaction(store.conn):
        for a in articles:
            store.upsert_article("/abs/" + a.path, a, 100, 1, "sha-" + a.path)


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(minutes=1)


def _seed_articles() -> list[Article]:
    from bot.articles import parse_article

    return [
        parse_article(SEEDS / "000_b63c83e36970c003.txt", display_path="seeds/000.txt"),
        parse_article(SEEDS / "003_89b01d93bc535f51.txt", display_path="seeds/003.txt"),
    ]


def _made_up_article(rng: random.Random, n: int) -> Article:
    """An article on its own made-up subject, so that no two of them share a story."""
    letters = "bcdfghjklmnprstvz"
    vowels = "aeiou"

    def word() -> str:
        return "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(3))

    subject = [word() for _ in range(8)]
    paragraphs = tuple(
        " ".join(
            f"The {rng.choice(subject)} of {rng.choice(subject)} met the {rng.choice(subject)} "
            f"near {rng.choice(subject).title()} on day {k}, the {rng.choice(subject)} said."
            for k in range(3)
        )
        for _ in range(3)
    )
    return Article(
        path=f"made/{n:03d}.txt",
        title=f"{subject[0].title()} {subject[1]} {subject[2]}",
        paragraphs=paragraphs,
        author=f"Writer {n}",
        published=datetime(2024, 5, 1, 8, n % 60, tzinfo=UTC),
    )


def test_seeds_make_one_story_with_two_sources(store: Store) -> None:
    rates = Article(
        path="wire/rates.txt",
        title="Central bank holds interest rates",
        paragraphs=(
            "The central bank left its main interest rate unchanged at 4.5% on Thursday, saying "
            "inflation was falling more slowly than expected.",
            "Economists had predicted the decision, although two members of the committee voted "
            "for a cut. Mortgage lenders said costs were unlikely to change before the summer.",
        ),
        author="Ann Economist",
    )
    _add(store, *_seed_articles(), rates)
    since, until = _window()
    digest = build_digest(store, since, until, DAY)
    assert digest.total_articles == 3
    assert digest.more == 0
    assert len(digest.stories) == 2
    mali = digest.stories[0]  # two sources outrank one
    assert sorted(a.path for a in mali.sources) == ["seeds/000.txt", "seeds/003.txt"]
    assert mali.headline == "France has withdrawn its last troops from Mali"
    assert 2 <= len(mali.summary) <= 3
    captions = [c for a in _seed_articles() for c in a.captions]
    assert captions, "the seed has a photo caption"
    for sentence in mali.summary:
        assert not is_fragment(sentence)
        assert all(sentence not in c and c not in sentence for c in captions)
        assert "AP Photo" not in sentence and "REMIX NEWS" not in sentence
        assert "tend:" not in sentence and "author:" not in sentence
    assert digest.stories[1].headline == "Central bank holds interest rates"
    assert [a.author for a in digest.stories[1].sources] == ["Ann Economist"]


def test_window_selects_by_first_seen(store: Store) -> None:
    _add(store, *_seed_articles())
    since, until = _window()
    past = build_digest(store, since - timedelta(days=2), since - timedelta(days=1), DAY)
    assert past.empty and past.stories == () and past.more == 0
    future = build_digest(store, until, until + timedelta(days=1), DAY)
    assert future.total_articles == 0
    assert build_digest(store, since, until, DAY).total_articles == 2


def test_hostile_body_text_never_leaks_metadata(store: Store) -> None:
    article = Article(
        path="x/hostile.txt",
        title="Council approves bridge <b>budget</b>",
        paragraphs=(
            "By . Staff Reporter . PUBLISHED: . 09:12 EST, 2 May 2024 . | . UPDATED: . "
            "10:00 EST, 2 May 2024 . The council approved the river bridge budget on Wednesday "
            "after a debate that lasted more than six hours.",
            "Budget night: Councillors vote on the bridge plan at the town hall . The bridge will "
            "cost 40 million dollars, twice the amount first promised to voters. "
            "The mayor (pictured) said the bridge would cut commuting times in half.",
            "Opponents said the plan had been hidden from residents & <@U123> for two years.",
        ),
    )
    _add(store, article)
    since, until = _window()
    (story,) = build_digest(store, since, until, DAY).stories
    assert story.summary
    for sentence in story.summary:
        assert "PUBLISHED" not in sentence and "Staff Reporter" not in sentence
        assert "Budget night" not in sentence and "(pictured)" not in sentence
    # Text is passed through unescaped: escaping is the renderer's job.
    assert story.headline == "Council approves bridge <b>budget</b>"


def test_many_articles_stay_bounded(store: Store) -> None:
    rng = random.Random(7)
    _add(store, *(_made_up_article(rng, n) for n in range(40)))
    since, until = _window()
    digest = build_digest(store, since, until, DAY, max_stories=5)
    assert digest.total_articles == 40
    assert len(digest.stories) == 5
    assert digest.more == 35
    assert all(len(s.sources) == 1 and 1 <= len(s.summary) <= 3 for s in digest.stories)
    # Equal coverage: the most recently published come first.
    published = [s.sources[0].published for s in digest.stories]
    assert published == sorted(published, reverse=True)
    none = build_digest(store, since, until, DAY, max_stories=0)
    assert none.stories == () and none.more == 40


def test_json_shape(store: Store) -> None:
    _add(store, *_seed_articles())
    since, until = _window()
    digest = build_digest(store, since, until, DAY)
    data = digest_to_json(digest, ["C0123", "C0456"])
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"date", "channels", "stories", "more"}
    assert data["date"] == "2024-05-02"
    assert data["channels"] == ["C0123", "C0456"]
    assert data["more"] == 0
    (story,) = data["stories"]
    assert set(story) == {"headline", "summary", "sources", "disagreements"}
    # 5,000 troops sent in 2013 (one report) and 4,500 -> 5,100 in 2020 (the other) differ in
    # what they count, not in what the sources say.
    assert story["disagreements"] == []
    assert all(isinstance(s, str) for s in story["summary"])
    by_path = {s["path"]: s for s in story["sources"]}
    assert set(by_path["seeds/003.txt"]) == {"title", "path", "author", "published"}
    assert by_path["seeds/003.txt"]["author"] == "Thomas Brooke"
    assert datetime.fromisoformat(by_path["seeds/003.txt"]["published"]).year == 2023
    assert by_path["seeds/000.txt"]["published"] is None
    assert by_path["seeds/000.txt"]["author"] is None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_digest(store, datetime(2024, 5, 1), datetime(2024, 5, 2, tzinfo=UTC), DAY)


def test_digest_is_a_value(store: Store) -> None:
    since, until = _window()
    digest = build_digest(store, since, until, DAY)
    assert isinstance(digest, Digest)
    assert (digest.date, digest.since, digest.until) == (DAY, since, until)
