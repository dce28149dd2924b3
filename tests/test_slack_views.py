"""Block Kit rendering from hand-made results: escaping, highlighting, limits, paging."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from fakeslack import iter_blocks_text
from slack_sdk.models.blocks import Block

from bot.models import Hit, SearchResult, StoredArticle
from bot.slack import views

HOSTILE = "<!channel> <@U0BADBAD> <http://evil.test|click> & <#C1> *bold*"
BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def article(i: int = 1, **kw) -> StoredArticle:
    fields = {
        "id": i,
        "path": f"/a/{i}.txt",
        "title": f"Headline {i}",
        "dek": None,
        "author": "Jane Roe",
        "editor": None,
        "source": "Wire",
        "url": f"https://news.test/{i}",
        "published": datetime(2023, 9, 23, 14, 4, tzinfo=UTC),
        "first_seen": datetime(2024, 1, 1, tzinfo=UTC),
    }
    fields.update(kw)
    return StoredArticle(**fields)


def hit(text: str, word: str, i: int = 1, paragraph: int = 2, art: StoredArticle | None = None):
    start = text.index(word)
    return Hit(art or article(i), paragraph, text, 1.0, ((start, start + len(word)),), 100 + i)


def result(hits, **kw) -> SearchResult:
    return SearchResult(kw.pop("query", "wagner"), tuple(hits), 2.5, **kw)


def assert_valid(message: views.Message) -> None:
    """Within every limit, and accepted by slack_sdk's own block models."""
    text, blocks = message
    assert text and len(text) <= views.FALLBACK_TEXT
    assert len(blocks) <= views.MAX_BLOCKS
    assert len(json.dumps(blocks, ensure_ascii=False)) <= views.MESSAGE_CHARS
    for block in blocks:
        assert Block.parse(block).to_dict() is not None  # raises when a limit is broken
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= views.SECTION_TEXT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= views.HEADER_TEXT
        buttons = [block.get("accessory") or {}, *(block.get("elements") or [])]
        for b in buttons:
            if b.get("type") == "button":
                assert len(b["text"]["text"]) <= views.BUTTON_TEXT
                assert len(b["value"]) <= views.BUTTON_VALUE


def all_text(message: views.Message) -> str:
    return "\n".join([message.text, *iter_blocks_text(message.blocks)])


def test_result_shows_headline_byline_date_bold_match_and_position():
    msg = views.search_results(
        result([hit("Fama and Wagner are going to fail", "Wagner")]), totals={1: 9}
    )
    assert_valid(msg)
    text = all_text(msg)
    assert "*<https://news.test/1|Headline 1>*" in text
    assert "Fama and *Wagner* are going to fail" in text
    assert "Jane Roe, Wire · 23 Sep 2023 · paragraph 3 of 9" in text
    assert "Results 1–1" in text


def test_untrusted_text_is_escaped_everywhere():
    art = article(title=HOSTILE, author=HOSTILE, url="https://x.test/<!channel>")
    passage = f"{HOSTILE} Wagner {HOSTILE}"
    msg = views.search_results(
        result([hit(passage, "Wagner", art=art)], query=HOSTILE, corrected=HOSTILE)
    )
    assert_valid(msg)
    text = all_text(msg)
    assert "<!channel>" not in text and "<@U0BADBAD>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text
    assert not BARE_AMP.search(text)
    # the only markup left is the bot's own: none here, since the url was unusable
    assert "<" not in text.replace("&lt;", "")


def test_did_you_mean_and_hint():
    msg = views.search_results(
        result(
            [hit("the mercenaries left", "mercenaries")],
            query="mercinaries",
            corrected="mercenaries",
        )
    )
    assert "Did you mean *mercenaries*?" in all_text(msg)
    empty = views.search_results(result([], query="zzz", hint="Try fewer keywords."))
    assert_valid(empty)
    assert "No results for *zzz*. Try fewer keywords." in all_text(empty)
    assert not any(b["type"] == "actions" for b in empty.blocks)


def test_share_buttons_carry_passage_and_spans():
    msg = views.search_results(result([hit("a Wagner b", "Wagner", i) for i in (1, 2)]))
    buttons = [b["accessory"] for b in msg.blocks if "accessory" in b]
    assert [b["action_id"] for b in buttons] == ["share_hit:0", "share_hit:1"]
    value = views.parse_value(buttons[1]["value"])
    assert value == {"p": 102, "s": [[2, 8]], "q": "wagner"}
    unshared = views.search_results(result([hit("a Wagner b", "Wagner")]), shareable=False)
    assert not any("accessory" in b for b in unshared.blocks)


def test_more_results_button_only_when_there_is_more():
    hits = [hit("a Wagner b", "Wagner", i) for i in range(1, 6)]
    msg = views.search_results(result(hits, offset=5, has_more=True))
    more = [b for b in buttons_of(msg) if b["action_id"] == views.ACTION_MORE]
    assert len(more) == 1
    assert views.parse_value(more[0]["value"]) == {"q": "wagner", "o": 10}
    assert "Results 6–10" in all_text(msg)
    last = views.search_results(result(hits, offset=5, has_more=False))
    assert views.ACTION_MORE not in {b["action_id"] for b in buttons_of(last)}


def buttons_of(message: views.Message) -> list[dict]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def test_newest_first_button_and_more_results_keep_the_order():
    hits = [hit("a Wagner b", "Wagner", i) for i in range(1, 6)]
    msg = views.search_results(result(hits, has_more=True))
    sort = [b for b in buttons_of(msg) if b["action_id"] == views.ACTION_SORT]
    assert [b["text"]["text"] for b in sort] == ["Newest first"]
    assert views.parse_value(sort[0]["value"]) == {"q": "wagner", "o": 0, "s": "newest"}
    newest = views.search_results(result(hits, has_more=True), sort="newest")
    by_id = {b["action_id"]: b for b in buttons_of(newest)}
    more = views.parse_value(by_id[views.ACTION_MORE]["value"])
    assert more == {"q": "wagner", "o": 5, "s": "newest"}
    assert by_id[views.ACTION_SORT]["text"]["text"] == "Best matches first"
    assert "newest first" in all_text(newest)


def test_every_hit_has_a_related_button_even_when_not_shareable():
    hits = [hit("a Wagner b", "Wagner", i) for i in (1, 2)]
    for shareable in (True, False):
        msg = views.search_results(result(hits), shareable=shareable)
        related = [b for b in buttons_of(msg) if b["action_id"].startswith(views.ACTION_RELATED)]
        assert [views.parse_value(b["value"]) for b in related] == [{"p": 101}, {"p": 102}]
        assert_valid(msg)


def test_300_huge_hits_are_cut_to_limits_with_paging():
    long_text = ("Wagner & <b> mercenaries " * 600).strip()
    hits = [hit(long_text, "mercenaries", i) for i in range(300)]
    msg = views.search_results(result(hits, query="x" * 5000, has_more=False))
    assert_valid(msg)
    text = all_text(msg)
    assert "more not shown" in text
    more = next(b for b in buttons_of(msg) if b["action_id"] == views.ACTION_MORE)
    shown = sum(1 for b in msg.blocks if "accessory" in b)
    assert 0 < shown < 300
    assert views.parse_value(more["value"])["o"] == shown
    assert "…" in text


def test_help_lists_every_entry():
    entries = [
        views.HelpEntry(f"/news cmd{i}", f"does {i} <&>", f"/news cmd{i} x") for i in range(3)
    ]
    msg = views.help_view(entries)
    assert_valid(msg)
    text = all_text(msg)
    for e in entries:
        assert f"`{e.usage}`" in text
    assert "does 1 &lt;&amp;&gt;" in text


def test_sources_lists_newest_with_and_more():
    arts = [article(i, title=f"Story {i} {HOSTILE}") for i in range(300)]
    msg = views.sources_view(arts, article_count=300, passage_count=4000)
    assert_valid(msg)
    text = all_text(msg)
    assert "*300* articles" in text and "and 280 more" in text
    assert "<!channel>" not in text
    assert text.index("Story 0 ") < text.index("Story 19 ")


def test_shared_passage_is_attributed_and_escaped():
    msg = views.shared_passage(
        article(title=HOSTILE), 4, "Wagner <!here>", [(0, 6)], total=12, user_id="U0SHARER"
    )
    assert_valid(msg)
    text = all_text(msg)
    assert "Shared by <@U0SHARER>" in text
    assert "*Wagner* &lt;!here&gt;" in text and "paragraph 5 of 12" in text
    forged = views.shared_passage(article(), 0, "x", [], total=None, user_id="<!channel>")
    assert "<!channel>" not in all_text(forged)
