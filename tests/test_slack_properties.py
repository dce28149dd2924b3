"""Property tests on what the bot sends to Slack: arbitrary article text, titles, bylines, URLs
and queries (unicode, control characters, Slack markup, huge inputs) always render within Block
Kit limits, accepted by slack_sdk's block models, with no markup the bot did not write."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from blockkit import all_text, article, assert_valid, digest_of
from conftest import SEEDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.digest.build import Story
from bot.models import Hit, SearchResult
from bot.slack.listeners import search_message
from bot.slack.mrkdwn import plain_from_slack
from bot.slack.views.blocks import BUTTON_VALUE, Message
from bot.slack.views.digest import preview_note, render_digest
from bot.slack.views.search import search_results, shared_passage

# The only markup the bot writes around untrusted text: links to URLs it checked.
OWN_LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>]*>")
BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<@U0VICTIM>",
    "<#C0SECRET|secret>",
    "<http://evil.test|click>",
    "&lt;already escaped&gt;",
    "Tom & Jerry",
    "*bold* _it_ ~st~ `code` ```block```",
    "\x00\x07\x1b[31m\u202e\ufeff",
    "' OR 1=1; DROP TABLE articles; --",
    'NEAR("a" "b") AND title:x*',
    '"<!channel> wagner" -<@U0VICTIM> by:<!here> after:2023-13-01',
    'by:"Tom & Jerry" before:2023-09-30 -"mali troops" author: -',
    "after:2024-01-01 before:2023-01-01 -- -",
]

untrusted = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="<>&|@!#*_~`:/ abcxyz\n\t\x00\u202e\u00e9\U0001f600", max_size=300),
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=8).map(" ".join),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=12), st.integers(200, 1500)),
)
urls = st.one_of(
    st.none(),
    st.just("https://news.test/a?x=1&y=2"),
    st.sampled_from(["https://x.test/<!channel>", "https://a|b", "javascript:alert(1)"]),
    untrusted,
)


def assert_no_foreign_markup(message: Message, *allowed: str) -> None:
    text = OWN_LINK.sub("", all_text(message))
    for markup in allowed:
        text = text.replace(markup, "", 1)
    assert "<" not in text and ">" not in text, text[:500]
    assert not BARE_AMP.search(text), text[:500]


@st.composite
def stored_articles(draw, i: int = 1):
    return article(
        i,
        title=draw(untrusted) or "untitled",
        author=draw(st.one_of(st.none(), untrusted)),
        source=draw(st.one_of(st.none(), untrusted)),
        url=draw(urls),
    )


@st.composite
def digests(draw):
    n = draw(st.integers(0, 40))
    stories = []
    for i in range(n):
        sources = tuple(draw(stored_articles(i * 10 + j)) for j in range(draw(st.integers(1, 5))))
        summary = tuple(draw(st.lists(untrusted, max_size=4)))
        stories.append(Story(draw(untrusted), summary, sources))
    more = draw(st.integers(0, 500)) if stories else 0  # the builder counts only past its top
    return digest_of(tuple(stories), more=more)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests(), st.one_of(st.none(), untrusted))
def test_any_digest_renders_within_limits_without_foreign_markup(digest, note_text):
    since = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    note = preview_note(["C0DESK0001", note_text or "x"], since)
    text, blocks = render_digest(digest, note=note)
    message = Message(text, blocks)
    assert_valid(message)
    body = all_text(message)
    assert "<!" not in body and "<@" not in body
    second = note_text or "x"
    # the bot's own channel mention, in the note
    assert body.count("<#C0DESK0001>") == 1 + (second == "C0DESK0001")
    allowed = ["<#C0DESK0001>"]
    if re.fullmatch(r"[CG][A-Z0-9]{2,}", second):
        allowed.append(f"<#{second}>")  # a well-formed id (say 'C00') is mentioned, by design
    assert_no_foreign_markup(message, *allowed)
    shown = sum(1 for b in blocks if "accessory" in b)
    if len(digest.stories) + digest.more > shown:
        assert f"and {len(digest.stories) + digest.more - shown} more" in body


@st.composite
def hits(draw, i: int):
    text = draw(untrusted) or "x"
    spans = []
    for _ in range(draw(st.integers(0, 5))):
        a = draw(st.integers(0, len(text) - 1))
        b = draw(st.integers(a + 1, len(text)))
        spans.append((a, b))
    return Hit(draw(stored_articles(i)), draw(st.integers(0, 50)), text, 1.0, tuple(spans), i)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(1, 10_000), max_size=8, unique=True).flatmap(
        lambda ids: st.tuples(*[hits(i) for i in ids])
    ),
    untrusted,
    st.one_of(st.none(), untrusted),
    st.booleans(),
)
def test_any_search_answer_renders_within_limits_without_foreign_markup(
    found, query, corrected, has_more
):
    result = SearchResult(query, tuple(found), 3.0, corrected or None, None, 0, has_more)
    message = search_results(result, shareable=True)
    assert_valid(message)
    assert_no_foreign_markup(message)
    for block in message.blocks:
        button = block.get("accessory") or {}
        if button:
            assert len(button["value"]) <= BUTTON_VALUE


@settings(max_examples=40, deadline=None)
@given(stored_articles(), untrusted, st.one_of(st.none(), st.sampled_from(["U0OK1", "<!here>"])))
def test_any_shared_passage_pings_only_the_sharer(art, text, user):
    message = shared_passage(art, 3, text, (), total=9, user_id=user)
    assert_valid(message)
    body = all_text(message)
    mentions = re.findall(r"<@[^>]*>", body)
    assert mentions == (["<@U0OK1>"] if user == "U0OK1" else [])
    assert_no_foreign_markup(Message(message.text, message.blocks[:-1]))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from bot.archive import Archive
    from bot.settings import Settings

    home = tmp_path_factory.mktemp("props")
    shutil.copytree(SEEDS, home / "seeds")
    arch = Archive.open(Settings(db_path=home / "db" / "n.db", articles_dir=home / "seeds"))
    arch.ingest()
    yield arch
    arch.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        untrusted,
        st.sampled_from(["wagner", "mali troops", "macron"]).map(
            lambda w: f"&lt;!channel&gt; {w} <@U0VICTIM> &amp; <http://evil.test|x>"
        ),
    )
)
def test_any_text_typed_in_slack_is_searched_and_answered_safely(seeded, typed):
    query = plain_from_slack(typed)
    message = search_message(seeded, query, shareable=True)
    assert_valid(message)
    assert_no_foreign_markup(message)
