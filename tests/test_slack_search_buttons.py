"""The Newest first and Related buttons over signed HTTP (Bolt + waitress, fake Slack on
loopback), and button values that were tampered with."""

from __future__ import annotations

import json

from conftest import find_button
from test_slack_http import text_of

from bot.slack.views.buttons import ACTION_MORE, ACTION_RELATED, ACTION_SORT

MACRON = "Has President Macron abandoned Mali to the jihadists?"
MALI = "France has withdrawn its last troops from Mali"


def test_newest_first_reorders_and_keeps_the_order_when_paging(slack_http, archive):
    reply = slack_http.command("/news", "mali")
    newest = slack_http.click(find_button(reply.blocks, ACTION_SORT))
    assert newest.body["replace_original"] is True
    text = text_of(newest)
    assert "newest first" in text
    # The Mali seed has no date line: first seen today, so it is newer than the Macron one.
    assert MALI in text and MACRON not in text
    assert MACRON in text_of(reply)  # by relevance, both articles on the first page
    more = slack_http.click(find_button(newest.blocks, ACTION_MORE))
    assert "Results 6–" in text_of(more) and "newest first" in text_of(more)
    assert MACRON in text_of(more)
    back = slack_http.click(find_button(newest.blocks, ACTION_SORT))
    assert "newest first" not in text_of(back)


def test_related_answers_only_the_asker_with_other_articles(slack_http, archive):
    reply = slack_http.dm("Bandiagara")  # a DM answer: no Share button, still Related
    button = find_button(reply.params["blocks"], ACTION_RELATED)
    related = slack_http.click(button)
    assert related.body["response_type"] == "ephemeral"
    assert related.body["replace_original"] is False
    text = text_of(related)
    assert "Related" in text and MALI in text
    assert text.count(MACRON) == 1  # named once, as the passage asked about, never as a hit


def test_tampered_button_values_get_a_calm_answer(slack_http, archive):
    reply = slack_http.command("/news", "mali")
    related = find_button(reply.blocks, ACTION_RELATED)
    for value in ('{"p": "1; DROP"}', "not json", '{"p": -4}', "[]", '{"p": 1e400}'):
        answer = slack_http.click({**related, "value": value})
        assert "This button has expired; search again." in text_of(answer)  # bot.slack.app
    answer = slack_http.click({**related, "value": '{"p": 99999999999}'})
    assert "no longer in the archive" in text_of(answer)
    sort = find_button(reply.blocks, ACTION_SORT)
    for weird in ({"q": "mali", "o": 10**12, "s": "newest"}, {"q": "mali", "s": "<!channel>"}):
        answer = slack_http.click({**sort, "value": json.dumps(weird)})
        assert "This button has expired" in text_of(answer) and "<!channel>" not in text_of(answer)


def test_related_answers_with_the_five_passages_most_like_it(slack_http, archive):
    # Eight other articles with a passage like the Bandiagara one.
    words = "mercenaries ambush Bandiagara Russian Qaeda affiliate deaths"
    for n in range(8):
        (archive.settings.articles_dir / f"like_{n}.txt").write_text(
            f"Report {n}\n\nA note on {words} in central Mali, number {n}.\n", encoding="utf-8"
        )
    archive.ingest()
    reply = slack_http.dm("four Russian mercenaries Bandiagara")
    assert MACRON in text_of(reply).split("Report")[0]  # the seed's passage first
    related = slack_http.click(find_button(reply.params["blocks"], ACTION_RELATED))
    text = text_of(related)
    # Five of the eight, never the passage's own article (named once, as what they are like).
    assert text.count("paragraph 1 of 1") == 5 and text.count(MACRON) == 1
