"""Search answers rendered from hand-made results: escaping, highlighting, limits, paging,
the Share / Related / More / sort buttons, and a passage shared to a channel."""

from __future__ import annotations

from blockkit import BARE_AMP, HOSTILE, all_text, article, assert_valid, buttons_of, hit, result

from bot.slack.views.buttons import ACTION_MORE, ACTION_RELATED, ACTION_SORT, parse_value
from bot.slack.views.search import search_results, shared_passage


def test_result_shows_headline_byline_date_bold_match_and_position():
    msg = search_results(
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
    msg = search_results(
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
    msg = search_results(
        result(
            [hit("the mercenaries left", "mercenaries")],
            query="mercinaries",
            corrected="mercenaries",
        )
    )
    assert "Did you mean *mercenaries*?" in all_text(msg)
    empty = search_results(result([], query="zzz", hint="Try fewer keywords."))
    assert_valid(empty)
    assert "No results for *zzz*. Try fewer keywords." in all_text(empty)
    assert not any(b["type"] == "actions" for b in empty.blocks)


def test_share_buttons_carry_passage_and_spans():
    msg = search_results(result([hit("a Wagner b", "Wagner", i) for i in (1, 2)]))
    buttons = [b["accessory"] for b in msg.blocks if "accessory" in b]
    assert [b["action_id"] for b in buttons] == ["share_hit:0", "share_hit:1"]
    value = parse_value(buttons[1]["value"])
    assert value == {"p": 102, "s": [[2, 8]], "q": "wagner"}
    unshared = search_results(result([hit("a Wagner b", "Wagner")]), shareable=False)
    assert not any("accessory" in b for b in unshared.blocks)


def test_more_results_button_only_when_there_is_more():
    hits = [hit("a Wagner b", "Wagner", i) for i in range(1, 6)]
    msg = search_results(result(hits, offset=5, has_more=True))
    more = [b for b in buttons_of(msg) if b["action_id"] == ACTION_MORE]
    assert len(more) == 1
    assert parse_value(more[0]["value"]) == {"q": "wagner", "o": 10}
    assert "Results 6–10" in all_text(msg)
    last = search_results(result(hits, offset=5, has_more=False))
    assert ACTION_MORE not in {b["action_id"] for b in buttons_of(last)}


def test_newest_first_button_and_more_results_keep_the_order():
    hits = [hit("a Wagner b", "Wagner", i) for i in range(1, 6)]
    msg = search_results(result(hits, has_more=True))
    sort = [b for b in buttons_of(msg) if b["action_id"] == ACTION_SORT]
    assert [b["text"]["text"] for b in sort] == ["Newest first"]
    assert parse_value(sort[0]["value"]) == {"q": "wagner", "o": 0, "s": "newest"}
    newest = search_results(result(hits, has_more=True), sort="newest")
    by_id = {b["action_id"]: b for b in buttons_of(newest)}
    more = parse_value(by_id[ACTION_MORE]["value"])
    assert more == {"q": "wagner", "o": 5, "s": "newest"}
    assert by_id[ACTION_SORT]["text"]["text"] == "Best matches first"
    assert "newest first" in all_text(newest)


def test_every_hit_has_a_related_button_even_when_not_shareable():
    hits = [hit("a Wagner b", "Wagner", i) for i in (1, 2)]
    for shareable in (True, False):
        msg = search_results(result(hits), shareable=shareable)
        related = [b for b in buttons_of(msg) if b["action_id"].startswith(ACTION_RELATED)]
        assert [parse_value(b["value"]) for b in related] == [{"p": 101}, {"p": 102}]
        assert_valid(msg)


def test_300_huge_hits_are_cut_to_limits_with_paging():
    long_text = ("Wagner & <b> mercenaries " * 600).strip()
    hits = [hit(long_text, "mercenaries", i) for i in range(300)]
    msg = search_results(result(hits, query="x" * 5000, has_more=False))
    assert_valid(msg)
    text = all_text(msg)
    assert "more not shown" in text
    more = next(b for b in buttons_of(msg) if b["action_id"] == ACTION_MORE)
    shown = sum(1 for b in msg.blocks if "accessory" in b)
    assert 0 < shown < 300
    assert parse_value(more["value"])["o"] == shown
    assert "…" in text


def test_shared_passage_is_attributed_and_escaped():
    msg = shared_passage(
        article(title=HOSTILE), 4, "Wagner <!here>", [(0, 6)], total=12, user_id="U0SHARER"
    )
    assert_valid(msg)
    text = all_text(msg)
    assert "Shared by <@U0SHARER>" in text
    assert "*Wagner* &lt;!here&gt;" in text and "paragraph 5 of 12" in text
    forged = shared_passage(article(), 0, "x", [], total=None, user_id="<!channel>")
    assert "<!channel>" not in all_text(forged)
