"""What the archive holds (/news sources), at sizes that stress Slack's limits."""

from __future__ import annotations

from blockkit import HOSTILE, all_text, article, assert_valid

from bot.slack.views.sources import sources_view


def test_sources_lists_newest_with_and_more():
    arts = [article(i, title=f"Story {i} {HOSTILE}") for i in range(300)]
    msg = sources_view(arts, article_count=300, passage_count=4000)
    assert_valid(msg)
    text = all_text(msg)
    assert "*300* articles" in text and "and 280 more" in text
    assert "<!channel>" not in text
    assert text.index("Story 0 ") < text.index("Story 19 ")
