"""Rendering the digest for Slack, and its "See passages" button.

The digest content is ``bot.digest.build``'s own dataclasses, built by hand here so the rendering is
checked on its own, at the sizes that stress Slack's limits.
"""

from __future__ import annotations

import json
from datetime import date

from blockkit import BARE_AMP, HOSTILE, all_text, article, assert_valid, digest_of
from conftest import find_button
from fakeslack import iter_blocks_text

from bot.digest.build import Story
from bot.slack.views.blocks import Message
from bot.slack.views.buttons import ACTION_DIGEST_PASSAGES
from bot.slack.views.digest import render_digest


def test_digest_renders_stories_with_sources_and_buttons():
    stories = (
        Story(
            "Troops leave Mali",
            ("France ended its deployment.", "Critics object."),
            (article(1), article(2, url=None)),
        ),
        Story("Quiet day", (), (article(3),)),
    )
    text, blocks = render_digest(digest_of(stories, day=date(2025, 3, 4)))
    assert_valid(Message(text, blocks))
    body = all_text(Message(text, blocks))
    assert "Newsroom digest, 4 Mar 2025" in body
    assert "*Troops leave Mali*\nFrance ended its deployment. Critics object." in body
    assert "<https://news.test/1|Headline 1> (Jane Roe, Wire · 23 Sep 2023)" in body
    button = find_button(blocks, ACTION_DIGEST_PASSAGES)
    assert json.loads(button["value"]) == {"a": [1, 2]}
    assert "more stories" not in body


def test_digest_of_300_articles_stays_within_limits_and_counts_the_rest():
    arts = [article(i, title=f"{HOSTILE} {i}" * 5) for i in range(300)]
    stories = tuple(
        Story(
            f"Story {i} {HOSTILE}",
            (f"{HOSTILE} sentence. " * 40,),
            tuple(arts[i * 3 : i * 3 + 3] * 20),
        )
        for i in range(100)
    )
    text, blocks = render_digest(digest_of(stories, more=7))
    message = Message(text, blocks)
    assert_valid(message)
    body = all_text(message)
    shown = sum(1 for b in blocks if "accessory" in b)
    assert 0 < shown < 100
    assert f"and {100 - shown + 7} more stories" in body
    assert "<!channel>" not in body and "<@U0BADBAD>" not in body and not BARE_AMP.search(body)
    assert "and 57 more sources" in body


def test_empty_digest_says_nothing_new():
    text, blocks = render_digest(digest_of(()))
    assert_valid(Message(text, blocks))
    assert "Nothing new" in all_text(Message(text, blocks))


def test_see_passages_button_answers_privately(slack, archive):
    ids = [a.id for a in archive.store.articles()]
    stories = (Story("Mali", ("x",), tuple(archive.store.article(i) for i in ids)),)
    _, blocks = render_digest(digest_of(stories))
    reply = slack.click(find_button(blocks, ACTION_DIGEST_PASSAGES), wait_for="response")
    assert reply.body["response_type"] == "ephemeral" and reply.body["replace_original"] is False
    body = "\n".join(iter_blocks_text(reply.blocks))
    for i in ids:
        assert archive.store.article(i).title in body
        assert f"2 of {len(archive.store.passages_of(i))} paragraphs" in body


def test_story_reads_well_headline_article_not_named_twice_sentences_closed():
    lead = article(1, title="Troops leave Mali")
    bare = article(2, title="Quiet story", url=None, author=None, source=None, published=None)
    stories = (
        Story("Troops leave Mali", ("France ended its deployment", "Critics object."), (lead,)),
        Story("Quiet story", ("Nothing much happened.",), (bare,)),
    )
    text, blocks = render_digest(digest_of(stories))
    assert_valid(Message(text, blocks))
    body = all_text(Message(text, blocks))
    assert "France ended its deployment. Critics object." in body
    assert "1 source: <https://news.test/1|full article> (Jane Roe, Wire · 23 Sep 2023)" in body
    assert body.count("Troops leave Mali") == 2  # the headline and the fallback text
    quiet = [b for b in blocks if "Quiet story" in json.dumps(b)]
    assert len(quiet) == 1  # no sources line with nothing to say
