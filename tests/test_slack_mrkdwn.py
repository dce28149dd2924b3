"""Escaping, unescaping and highlighting for Slack mrkdwn."""

from __future__ import annotations

import re

import pytest

from bot.slack.mrkdwn import (
    escape,
    excerpt,
    highlight,
    link,
    plain_from_slack,
    truncate,
    truncate_escaped,
    unescape,
    user_mention,
    window,
)

BARE = re.compile(r"&(?!amp;|lt;|gt;)")


def test_escape_only_control_characters():
    assert escape("<!channel> & \"quotes\" 'x'") == "&lt;!channel&gt; &amp; \"quotes\" 'x'"


def test_unescape_round_trips_and_leaves_double_escapes_once():
    for text in ["a < b & c > d", "&amp;lt;", "<@U1>", "plain"]:
        assert unescape(escape(text)) == text
    assert unescape("&amp;lt;") == "&lt;"


def test_plain_from_slack_drops_mentions_keeps_labels():
    assert plain_from_slack("<@U123> wagner &amp; mali") == "wagner & mali"
    assert plain_from_slack("see <https://x.test/a|the story> <#C1|news>") == "see the story news"
    assert plain_from_slack("<!here> <https://x.test/a>") == "https://x.test/a"
    assert plain_from_slack("AT&amp;T &lt;b&gt;") == "AT&T <b>"


def test_highlight_maps_offsets_through_escapes():
    text = "R&D <b> cut: Wagner & co"
    start = text.index("Wagner")
    out = highlight(text, [(start, start + 6)])
    assert out == "R&amp;D &lt;b&gt; cut: *Wagner* &amp; co"


def test_highlight_merges_overlaps_and_trims_whitespace():
    text = "mali troops leave"
    assert highlight(text, [(0, 5), (3, 11), (40, 50)]) == "*mali troops* leave"
    assert highlight("a *b* c", [(2, 5)]) == "a *∗b∗* c"


def test_window_keeps_first_span_and_marks_cuts():
    words = " ".join(f"w{i}" for i in range(400))
    start = words.index("w300")
    cut, spans = window(words, [(start, start + 4)], 120)
    assert cut.startswith("…") and cut.endswith("…")
    assert len(cut) <= 120
    s, e = spans[0]
    assert cut[s:e] == "w300"


def test_excerpt_stays_within_limit_even_when_escapes_grow():
    text = "&" * 5000 + " Wagner " + "<" * 5000
    out = excerpt(text, [(5001, 5007)], max_chars=3000, limit=500)
    assert len(out) <= 500
    assert "*Wagner*" in out and "&lt;" in out
    assert not BARE.search(out) and "<" not in out


def test_excerpt_maps_spans_when_text_has_newlines():
    text = "Line one\nWagner here"
    s = text.index("Wagner")
    assert excerpt(text, [(s, s + 6)], max_chars=100, limit=100) == "Line one *Wagner* here"


@pytest.mark.parametrize("limit", [1, 5, 12, 40])
def test_truncate_escaped_never_splits_an_escape(limit):
    out = truncate_escaped("a&b<c>d " * 20, limit)
    assert len(out) <= limit
    assert not BARE.search(out) and "<" not in out and ">" not in out


def test_truncate_adds_ellipsis_at_word_boundary():
    assert truncate("short", 10) == "short"
    assert truncate("one two three four", 16) == "one two three…"
    assert len(truncate("x" * 50, 10)) == 10


def test_user_mention_only_for_real_ids():
    assert user_mention("U012ABC") == "<@U012ABC>"
    assert user_mention("<!channel>") == "&lt;!channel&gt;"


def test_link_rejects_unsafe_urls():
    assert link("https://x.test/a?b=1&c=2", "A <b>") == "<https://x.test/a?b=1&amp;c=2|A &lt;b&gt;>"
    assert link("javascript:alert(1)", "T") == "T"
    assert link("https://x.test/a|evil", "T") == "T"


def test_cut_mrkdwn_never_splits_an_escape_or_the_bots_markup():
    from bot.slack.mrkdwn import ELLIPSIS, cut_mrkdwn, escape

    text = escape("Tom & Jerry " * 300)
    for limit in range(1, 80):
        out = cut_mrkdwn(text, limit)
        assert len(out) <= limit
        assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert cut_mrkdwn("see <#C0DESK0001> now", 12) == "see " + ELLIPSIS
    assert cut_mrkdwn("short", 10) == "short"
