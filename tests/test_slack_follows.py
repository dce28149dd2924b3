"""Follows and desk digests through Bolt and the fake Slack: /news follow|following|unfollow,
the same in a DM, the Unfollow button, the alert DM (once, within limits, failures), and
/news digest here|stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import BOT_TOKEN, CHANNEL, DM_CHANNEL, USER, find_button
from fakeslack import iter_blocks_text

from bot.slack.alerts import AlertSender
from bot.slack.views.blocks import MAX_BLOCKS, MESSAGE_CHARS
from bot.slack.views.buttons import ACTION_DIGEST_ALL

OTHER = "U0OTHERONE"


def text_of(body: dict[str, Any]) -> str:
    return "\n".join([body.get("text") or "", *iter_blocks_text(body.get("blocks") or [])])


def blocks_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def write_article(folder: Path, name: str, title: str, body: str) -> None:
    (folder / f"{name}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")


@pytest.fixture
def alerts(slack: Any, archive: Any) -> Iterator[AlertSender]:
    """The alert sender as ``newsbot serve`` runs it (listener + poll), on the app's client."""
    stop = threading.Event()
    sender = AlertSender(archive, slack.app.client)
    sender.start(stop, poll_seconds=3600)
    yield sender
    stop.set()


def dms_to(slack: Any, user: str) -> list[Any]:
    return [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == user]


# -- follow, list, unfollow -----------------------------------------------------------------
def test_follow_list_and_unfollow_by_command(slack: Any) -> None:
    answer = slack.command("/news", "follow wagner mali -russia")
    assert "Following `wagner mali -russia`" in text_of(answer.body)
    slack.command("/news", 'follow "french troops" after:2020-01-01')
    listed = slack.command("/news", "following")
    text = text_of(listed.body)
    assert "1. `wagner mali -russia`" in text and '2. `"french troops" after:2020-01-01`' in text
    assert len([b for b in listed.body["blocks"] if b.get("accessory")]) == 2
    gone = slack.command("/news", "unfollow 1")
    assert "Stopped following `wagner mali -russia`" in text_of(gone.body)
    assert '1. `"french troops"' in text_of(slack.command("/news", "following").body)
    bad = slack.command("/news", "unfollow 7")
    assert "from 1 to 1" in text_of(bad.body)


def test_a_malformed_follow_gets_the_search_hint(slack: Any, archive: Any) -> None:
    answer = slack.command("/news", "follow -russia")
    assert archive.search("-russia").hint in text_of(answer.body)
    assert archive.following(USER) == []


def test_follows_are_per_user(slack: Any) -> None:
    slack.command("/news", "follow mali", user=OTHER)
    assert "You follow nothing" in text_of(slack.command("/news", "following").body)
    listed = slack.command("/news", "following", user=OTHER)
    button = find_button(listed.body["blocks"], "unfollow")
    # Someone else's click cannot remove it: the store checks the follow's owner.
    slack.click(button, user=USER, wait_for="response")
    assert "1. `mali`" in text_of(slack.command("/news", "following", user=OTHER).body)


def test_unfollow_button_removes_and_redraws(slack: Any) -> None:
    slack.command("/news", "follow mali")
    slack.command("/news", "follow wagner")
    listed = slack.command("/news", "following")
    redrawn = slack.click(find_button(listed.body["blocks"], "unfollow:1"), wait_for="response")
    assert redrawn.body.get("replace_original") is True
    text = text_of(redrawn.body)
    assert "`wagner`" in text and "`mali`" not in text


def test_tampered_unfollow_button_is_refused_in_one_line(slack: Any) -> None:
    slack.command("/news", "follow mali")
    button = {
        "type": "button",
        "action_id": "unfollow:1",
        "text": {"type": "plain_text", "text": "Unfollow"},
        "value": '{"f": "DROP TABLE"}',
    }
    answer = slack.click(button, wait_for="response")
    assert "expired" in text_of(answer.body)
    assert "1. `mali`" in text_of(slack.command("/news", "following").body)


def test_follow_following_unfollow_in_a_dm(slack: Any) -> None:
    assert "Following `volcano`" in text_of(slack.dm("follow volcano").params)
    assert "1. `volcano`" in text_of(slack.dm("following").params)
    assert "Stopped following `volcano`" in text_of(slack.dm("unfollow 1").params)
    assert slack.dm("mali troops").params["channel"] == DM_CHANNEL  # still a search


def test_help_lists_the_follow_and_desk_commands(slack: Any) -> None:
    text = text_of(slack.command("/news", "help").body)
    for usage in ("/news follow QUERY", "/news following", "/news unfollow N"):
        assert usage in text
    assert "/news digest here [QUERY]" in text and "/news digest stop" in text


def test_hostile_follow_queries_stay_inert(slack: Any, archive: Any, alerts: Any) -> None:
    # As Slack sends it: a real @channel as <!channel>, typed & < > escaped.
    query = "<!channel> volcano &amp;&lt;!here&gt; <@U0BOSS>"
    answer = slack.command("/news", f"follow {query}")
    raw = json.dumps(answer.body)
    assert "<!channel>" not in raw and "<@U0BOSS>" not in raw and "<!here>" not in raw
    assert "volcano &amp;&lt;!here&gt;" in raw
    again = json.dumps(slack.command("/news", f"follow {query}").body)  # a duplicate
    assert "already follow" in again and "<!here>" not in again
    listed = json.dumps(slack.command("/news", "following").body)
    assert "<!here>" not in listed and "&amp;&lt;!here&gt;" in listed
    write_article(archive.settings.articles_dir, "v", "Volcano <!here>", "A volcano woke up.")
    archive.ingest()
    dm = dms_to(slack, USER)
    assert len(dm) == 1
    raw = json.dumps(blocks_of(dm[0].params)) + dm[0].params["text"]
    assert "<!channel>" not in raw and "<!here>" not in raw


# -- alerts -----------------------------------------------------------------------------------
def test_new_matching_article_is_sent_once_in_a_dm(slack: Any, archive: Any, alerts: Any) -> None:
    folder = archive.settings.articles_dir
    slack.command("/news", "follow volcano eruption")
    slack.command("/news", "follow wagner", user=OTHER)  # matches only the old seeds
    write_article(folder, "v", "Volcano erupts", "The volcano eruption sent ash over the town.")
    write_article(folder, "w", "Rain", "It rained.")
    archive.ingest()
    dm = dms_to(slack, USER)
    assert len(dm) == 1 and dms_to(slack, OTHER) == []
    blocks = blocks_of(dm[0].params)
    text = "\n".join(iter_blocks_text(blocks))
    assert "Volcano erupts" in text and "*volcano* *eruption*" in text
    # Touching the file (an update) and ingesting again sends nothing more.
    write_article(folder, "v", "Volcano erupts", "The volcano eruption sent ash; lava too.")
    archive.ingest()
    alerts.send_pending()
    slack.assert_quiet(0.3)
    assert len(dms_to(slack, USER)) == 1


def test_many_matches_make_one_dm_within_limits(slack: Any, archive: Any, alerts: Any) -> None:
    folder = archive.settings.articles_dir
    slack.command("/news", "follow glacier")
    long = "The glacier retreats. " * 120
    for n in range(30):
        write_article(folder, f"g{n:02}", f"Glacier report {n}", long)
    archive.ingest()
    dm = dms_to(slack, USER)
    assert len(dm) == 1
    blocks = blocks_of(dm[0].params)
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks, ensure_ascii=False)) <= MESSAGE_CHARS
    text = "\n".join(iter_blocks_text(blocks))
    shown = text.count("Glacier report")
    assert 1 <= shown < 30
    assert f"and {30 - shown} more" in text
    assert "*30* new articles match" in text


def test_a_failed_dm_is_one_line_and_never_resent(
    slack: Any, archive: Any, alerts: Any, caplog: Any
) -> None:
    folder = archive.settings.articles_dir
    slack.command("/news", "follow volcano")
    slack.fake.fail("chat.postMessage", "user_not_found")
    write_article(folder, "v", "Volcano erupts", "The volcano woke up.")
    with caplog.at_level("WARNING", logger="newsbot.slack.alerts"):
        archive.ingest()
    lines = [r for r in caplog.records if r.name == "newsbot.slack.alerts"]
    assert len(lines) == 1 and "user_not_found" in lines[0].getMessage()
    assert not any(r.exc_info for r in lines)
    assert [row[3] for row in archive.store.alert_rows()] == ["failed"]
    alerts.send_pending()
    write_article(folder, "x", "Other", "Nothing about it.")
    archive.ingest()
    assert len(dms_to(slack, USER)) == 1  # the failed attempt only; never a second DM


def test_a_rate_limited_dm_is_retried_by_the_client_then_sent(
    slack: Any, archive: Any, alerts: Any
) -> None:
    slack.command("/news", "follow volcano")
    slack.fake.rate_limit("chat.postMessage", retry_after=0)
    write_article(archive.settings.articles_dir, "v", "Volcano erupts", "The volcano woke up.")
    archive.ingest()
    assert [row[3] for row in archive.store.alert_rows()] == ["sent"]


# -- desk digests -----------------------------------------------------------------------------
def test_digest_here_subscribes_and_stop_ends(slack: Any, archive: Any) -> None:
    answer = slack.command("/news", "digest here football")
    assert "now gets the daily digest" in text_of(answer.body)
    assert "`football`" in text_of(answer.body)
    assert [(d.channel, d.query) for d in archive.desks()] == [(CHANNEL, "football")]
    slack.command("/news", "digest here")  # again, no query: every story
    assert [(d.channel, d.query) for d in archive.desks()] == [(CHANNEL, "")]
    assert "no longer gets" in text_of(slack.command("/news", "digest stop").body)
    assert archive.desks() == []
    assert "does not get" in text_of(slack.command("/news", "digest stop").body)
    assert "Preview, only you see this" in text_of(slack.command("/news", "digest").body)


def test_digest_here_when_not_a_member_says_how_to_invite(slack: Any, archive: Any) -> None:
    slack.fake.not_member.add(CHANNEL)
    answer = slack.command("/news", "digest here")
    assert "/invite @newsbot" in text_of(answer.body)
    assert archive.desks() == []


def test_digest_here_with_a_malformed_query_gets_the_hint(slack: Any, archive: Any) -> None:
    answer = slack.command("/news", "digest here -football")
    assert archive.search("-football").hint in text_of(answer.body)
    assert archive.desks() == []


def test_desk_digests_are_filtered_and_posted_once_a_day(slack: Any, archive: Any) -> None:
    from bot.service import Service
    from bot.slack.digest_post import SlackDigestPoster

    desk, sports = "C0DESKALL1", "C0SPORTS01"
    archive.subscribe_desk(desk, "", USER)
    archive.subscribe_desk(sports, "football", USER)
    folder = archive.settings.articles_dir
    write_article(folder, "f", "Cup final tonight", "The football cup final is tonight.")
    write_article(folder, "r", "Budget vote", "Parliament votes on the budget.")
    archive.ingest()
    poster = SlackDigestPoster(slack.app.client)
    day = date.today()
    for _ in range(2):  # a second run that day posts nothing
        Service(archive.settings, archive).deliver_desks(day, poster.post, poster.find_existing)
    posts = slack.fake.calls_to("chat.postMessage")
    by_channel = {
        c.params["channel"]: "\n".join(iter_blocks_text(blocks_of(c.params))) for c in posts
    }
    assert sorted(c.params["channel"] for c in posts) == sorted([desk, sports])
    assert "Cup final tonight" in by_channel[sports] and "Budget vote" not in by_channel[sports]
    assert "Cup final tonight" in by_channel[desk] and "Budget vote" in by_channel[desk]


def test_digest_post_now_covers_the_desks_too(slack: Any, archive: Any) -> None:
    """`newsbot digest --post` posts where the schedule would: each desk its own stories."""
    from bot.service import Service

    sports = "C0SPORTS01"
    archive.subscribe_desk(sports, "football", USER)
    folder = archive.settings.articles_dir
    write_article(folder, "f", "Cup final tonight", "The football cup final is tonight.")
    write_article(folder, "r", "Budget vote", "Parliament votes on the budget.")
    archive.ingest()
    settings = archive.settings.with_overrides(
        slack_api_url=slack.fake.api_url, bot_token=BOT_TOKEN
    )
    service = Service(settings, archive)  # its Slack client talks to the fake
    assert service.has_digest_channels()
    for _ in range(2):  # the ledger: a second --post that day posts nothing
        results = service.post_digest_now()
    assert [r.channel for r in results] == [sports]
    [post] = slack.fake.calls_to("chat.postMessage")
    text = "\n".join(iter_blocks_text(blocks_of(post.params)))
    assert post.params["channel"] == sports
    assert "Cup final tonight" in text and "Budget vote" not in text


TEAMS = "Arsenal Barcelona Celtic Dortmund Everton Feyenoord Galatasaray Hajduk Inter Juventus \
Kashima Lazio Marseille".split()
CITIES = "Aberdeen Bergen Cardiff Dresden Exeter Florence Geneva Hamburg Ipswich Jena Kassel \
Leeds Munich".split()


def write_football_and_budget(archive: Any, matches: int) -> None:
    """``matches`` football stories (one event each) and a budget story, ingested."""
    folder = archive.settings.articles_dir
    for i, (team, city) in enumerate(zip(TEAMS[:matches], CITIES, strict=False)):
        body = f"{team} won the football match in {city} {i + 2}-0 on a cold night."
        write_article(folder, f"f{i}", f"{team} win in {city}", body)
    write_article(folder, "r", "Budget vote", "Parliament votes on the budget.")
    archive.ingest()


def test_digest_preview_in_a_desk_channel_has_only_the_desks_stories(
    slack: Any, archive: Any
) -> None:
    """`/news digest` in a desk channel previews what the schedule would post there."""
    write_football_and_budget(archive, 1)
    slack.command("/news", "digest here football")
    desk = text_of(slack.command("/news", "digest").body)
    assert "Arsenal win in Aberdeen" in desk
    assert "Budget vote" not in desk and "France has withdrawn" not in desk
    assert f"<#{CHANNEL}>" in desk and "only the stories matching `football`" in desk
    elsewhere = text_of(slack.command("/news", "digest", channel="C0ELSEWHERE").body)
    assert "Arsenal win in Aberdeen" in elsewhere and "Budget vote" in elsewhere
    assert "only the stories matching" not in elsewhere and f"<#{CHANNEL}>" not in elsewhere


def test_see_all_in_a_desk_channel_has_only_the_desks_stories(slack: Any, archive: Any) -> None:
    write_football_and_budget(archive, 13)
    slack.command("/news", "digest here football")
    preview = slack.command("/news", "digest")
    button = find_button(preview.blocks, ACTION_DIGEST_ALL)
    assert button["text"]["text"] == "See all 13 stories"
    rest = "\n".join(iter_blocks_text(slack.click(button, wait_for="response").blocks))
    assert "*11.*" in rest and "*13.*" in rest and "*14.*" not in rest
    assert "Budget vote" not in rest and "France has withdrawn" not in rest


def test_app_home_lists_follows_and_unfollows_there(slack: Any, archive: Any) -> None:
    slack.command("/news", "follow <!channel> volcano")
    slack.command("/news", "follow wagner")
    archive.subscribe_desk("C0SPORTS01", "football", USER)
    slack.send_event({"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "home"})
    view = slack.fake.wait_for_call("views.publish")[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    text = "\n".join(iter_blocks_text(view["blocks"]))
    assert "What you follow" in text and "1. `volcano`" in text and "2. `wagner`" in text
    assert "<#C0SPORTS01>" in text  # a desk channel is a digest channel
    assert "<!channel>" not in json.dumps(view)
    payload = slack.click_payload(find_button(view["blocks"], "unfollow:1"))
    payload["container"] = {"type": "view", "view_id": "V0HOME"}
    payload.pop("channel")
    slack.deliver("interactive", payload)
    again = slack.fake.wait_for_call("views.publish", count=2)[1].params["view"]
    again = json.loads(again) if isinstance(again, str) else again
    text = "\n".join(iter_blocks_text(again["blocks"]))
    assert "1. `wagner`" in text and "volcano" not in text
    assert [f.query for f in archive.following(USER)] == ["wagner"]
