"""Feeds from a real HTTP server on loopback: RSS 2.0 and Atom, conditional GET, bad feeds."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_cli import newsbot as run_newsbot

from bot.archive import Archive
from bot.arrivals import folder_watcher, poll_feeds
from bot.feeds import fetch_feed, parse_feed
from bot.settings import Settings, SettingsError

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Coastal Wire</title><link>https://coastal.example/</link><description>news</description>
<item>
  <title>Ferry capsizes off Port Avel</title>
  <link>https://coastal.example/ferry</link>
  <guid>coastal-ferry-1</guid>
  <dc:creator>Mara Quill</dc:creator>
  <pubDate>Mon, 30 Nov 2026 06:15:00 GMT</pubDate>
  <description><![CDATA[<p>A passenger ferry capsized off Port Avel early on Monday.</p>
  <p>Rescuers pulled {survivors} survivors from the water &amp; searched for more.</p>
  <script>alert("x")</script><p>&lt;!channel&gt; <b>urgent</b></p>]]></description>
</item>
<item>
  <title>Harbour fees rise</title>
  <link>https://coastal.example/fees</link>
  <description>The harbour board raised mooring fees by 4.2%.</description>
</item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Harbour Gazette</title>
  <id>urn:gazette</id><updated>2026-11-30T07:00:00Z</updated>
  <entry>
    <title type="html">Vessel overturned near &lt;em&gt;Port Avel&lt;/em&gt;</title>
    <id>urn:gazette:ferry</id>
    <link href="https://gazette.example/ferry"/>
    <author><name>Ilse Varga</name></author>
    <updated>2026-11-30T07:00:00Z</updated>
    <content type="html">&lt;p&gt;Fourteen people died when a vessel overturned.&lt;/p&gt;
      &lt;p&gt;The coastguard said the search would go on.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>An entry with nothing in it</title>
    <id>urn:gazette:empty</id>
    <updated>2026-11-30T07:00:00Z</updated>
  </entry>
</feed>"""


class _Feeds:
    """What the loopback server serves, and what it was asked."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.status: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []


@pytest.fixture
def feeds() -> Iterator[tuple[_Feeds, str]]:
    state = _Feeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers)))
            time.sleep(state.delay.get(self.path, 0))
            code = state.status.get(self.path, 200)
            body = state.bodies.get(self.path)
            if body is None or code != 200:
                self.send_response(404 if body is None else code)
                self.end_headers()
                return
            etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Mon, 30 Nov 2026 07:00:00 GMT")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the client may stop reading (the size limit)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def empty_archive(tmp_path: Path) -> Iterator[Archive]:
    (tmp_path / "articles").mkdir()
    arch = Archive.open(
        Settings(db_path=tmp_path / "db" / "newsbot.db", articles_dir=tmp_path / "articles")
    )
    yield arch
    arch.close()


def test_rss_entries_become_articles_with_byline_time_link_and_paragraphs() -> None:
    entries, skipped = parse_feed(RSS.format(survivors=80).encode(), "https://coastal.example/rss")
    assert skipped == []
    ferry = entries[0].article
    assert ferry.title == "Ferry capsizes off Port Avel"
    assert ferry.author == "Mara Quill"
    assert ferry.source == "Coastal Wire"
    assert ferry.url == "https://coastal.example/ferry"
    assert (
        ferry.published is not None and ferry.published.isoformat() == "2026-11-30T06:15:00+00:00"
    )
    assert ferry.paragraphs[0] == "A passenger ferry capsized off Port Avel early on Monday."
    assert ferry.paragraphs[1].startswith("Rescuers pulled 80 survivors from the water & searched")
    # The script is gone; Slack's control text stays plain text for the Slack layer to escape.
    assert not any("alert" in p for p in ferry.paragraphs)
    assert ferry.paragraphs[2] == "<!channel> urgent"
    assert entries[0].key == "feed:coastal-ferry-1"
    # No guid: the link is the identity.
    assert entries[1].key == "feed:https://coastal.example/fees"


def test_atom_entries_and_an_entry_without_text_is_skipped_with_a_reason() -> None:
    entries, skipped = parse_feed(ATOM.encode(), "https://gazette.example/atom")
    assert [e.article.title for e in entries] == ["Vessel overturned near Port Avel"]
    assert entries[0].article.author == "Ilse Varga"
    assert entries[0].article.paragraphs == (
        "Fourteen people died when a vessel overturned.",
        "The coastguard said the search would go on.",
    )
    assert skipped == [("An entry with nothing in it", "entry has no text")]


def test_conditional_get_sends_validators_and_takes_304_as_not_modified(feeds: Any) -> None:
    state, base = feeds
    state.bodies["/rss"] = RSS.format(survivors=80).encode()
    first = fetch_feed(base + "/rss")
    assert first.status == "ok" and len(first.entries) == 2 and first.etag
    second = fetch_feed(base + "/rss", etag=first.etag, modified=first.modified)
    assert second.status == "not modified" and second.entries == []
    assert state.requests[-1][1].get("If-None-Match") == first.etag
    assert state.requests[-1][1].get("If-Modified-Since") == "Mon, 30 Nov 2026 07:00:00 GMT"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda s: s.status.__setitem__("/bad", 500), "HTTP 500"),
        (lambda s: s.bodies.__setitem__("/bad", b"<html><body>not a feed"), "not"),
        (lambda s: s.bodies.__setitem__("/bad", b"\x00\x01garbage"), "not"),
        (lambda s: s.bodies.__setitem__("/bad", b"<rss>" + b"x" * 5000), "too large"),
        (lambda s: None, "HTTP 404"),
    ],
    ids=["http-500", "html-page", "binary", "oversized", "missing"],
)
def test_a_bad_feed_is_one_line_never_an_exception(feeds: Any, setup: Any, expected: str) -> None:
    state, base = feeds
    state.bodies.setdefault("/bad", b"")
    if expected == "HTTP 404":
        del state.bodies["/bad"]
    setup(state)
    result = fetch_feed(base + "/bad", max_bytes=4096)
    assert result.status == "error"
    assert expected in result.message and "\n" not in result.message


def test_a_feed_that_does_not_answer_times_out(feeds: Any) -> None:
    state, base = feeds
    state.bodies["/slow"] = RSS.encode()
    state.delay["/slow"] = 2.0
    result = fetch_feed(base + "/slow", timeout=0.3)
    assert result.status == "error" and "0.3" in result.message


def test_unreachable_and_non_http_urls(feeds: Any) -> None:
    assert "cannot reach" in fetch_feed("http://127.0.0.1:9/none", timeout=2).message
    assert "not an http(s) URL" in fetch_feed("file:///etc/passwd").message


def test_feed_articles_are_searchable_updated_in_place_and_survive_a_rescan(
    feeds: Any, empty_archive: Archive
) -> None:
    state, base = feeds
    state.bodies["/rss"] = RSS.format(survivors=80).encode()
    fetched, report = empty_archive.ingest_feed(base + "/rss")
    assert fetched.status == "ok" and len(report.added) == 2
    hits = empty_archive.search("rescuers survivors").hits
    assert hits and hits[0].article.url == "https://coastal.example/ferry"
    assert hits[0].article.author == "Mara Quill"

    # Polled again, unchanged: the server answers 304 and nothing is rewritten.
    fetched, report = empty_archive.ingest_feed(base + "/rss")
    assert fetched.status == "not modified" and not report.changed

    # The entry is updated: the same article is replaced, not duplicated.
    state.bodies["/rss"] = RSS.format(survivors=93).encode()
    fetched, report = empty_archive.ingest_feed(base + "/rss")
    assert report.updated == ["https://coastal.example/ferry"] and not report.added
    texts = [h.text for h in empty_archive.search("survivors").hits]
    assert any("93 survivors" in t for t in texts) and not any("80 survivors" in t for t in texts)

    # A rescan of the (empty) articles folder never removes feed articles.
    assert not empty_archive.ingest().removed
    assert empty_archive.search("mooring fees").hits


def test_a_broken_feed_beside_a_good_one_changes_nothing_and_is_remembered(
    feeds: Any, empty_archive: Archive
) -> None:
    state, base = feeds
    state.bodies["/atom"] = ATOM.encode()
    state.bodies["/broken"] = b"<rss><channel><item><title>cut"
    broken, _ = empty_archive.ingest_feed(base + "/broken")
    good, report = empty_archive.ingest_feed(base + "/atom")
    assert broken.status == "error" and good.status == "ok"
    assert report.added == ["https://gazette.example/ferry"]
    states = empty_archive.feed_states()
    assert states[base + "/broken"]["status"] == "error"
    assert states[base + "/atom"]["status"] == "ok" and states[base + "/atom"]["etag"]


def test_poll_feeds_goes_on_past_a_failing_feed(feeds: Any, empty_archive: Archive) -> None:
    state, base = feeds
    state.bodies["/atom"] = ATOM.encode()
    state.status["/down"] = 503
    state.bodies["/down"] = b""
    results = poll_feeds(empty_archive, [base + "/down", base + "/atom"])
    assert [(url.rsplit("/", 1)[1], r.status if r else None) for url, r in results] == [
        ("down", "error"),
        ("atom", "ok"),
    ]
    assert empty_archive.search("vessel overturned").hits


def test_cli_ingest_feed_and_feeds_listing(feeds: Any, tmp_path: Path) -> None:
    state, base = feeds
    state.bodies["/rss"] = RSS.format(survivors=80).encode()
    (tmp_path / "articles").mkdir()
    env = {
        "NEWSBOT_ARTICLES_DIR": str(tmp_path / "articles"),
        "NEWSBOT_FEEDS": f"{base}/rss, {base}/never",
    }

    def newsbot(*args: str) -> subprocess.CompletedProcess[str]:
        return run_newsbot(tmp_path, *args, env=env)

    out = newsbot("ingest", "--feed", base + "/rss", "--feed", base + "/missing")
    assert out.returncode == 1  # one feed failed: said on stderr, the other still ingested
    assert "added 2" in out.stdout
    assert out.stderr.strip() == f"newsbot: feed {base}/missing: HTTP 404 Not Found"
    listing = newsbot("feeds")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].startswith(f"{base}/rss  ok: 2 entries")
    assert lines[1] == f"{base}/never  never polled"
    assert (
        lines[2].startswith(f"{base}/missing  error: HTTP 404")
        and "not in NEWSBOT_FEEDS" in lines[2]
    )
    found = newsbot("search", "rescuers survivors", "--json")
    assert json.loads(found.stdout)["hits"][0]["title"] == "Ferry capsizes off Port Avel"


def test_bad_feed_urls_in_the_environment_are_named() -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"NEWSBOT_FEEDS": "https://ok.example/rss\nftp://nope/feed"})
    assert err.value.problems == ["NEWSBOT_FEEDS: 'ftp://nope/feed' is not an http(s) URL"]
    settings = Settings.from_env({"NEWSBOT_FEEDS": "https://a.example/rss,https://b.example/atom"})
    assert settings.feeds == ("https://a.example/rss", "https://b.example/atom")
    assert settings.feed_minutes == 15


def test_a_file_written_into_the_folder_is_searchable_within_seconds(
    empty_archive: Archive,
) -> None:
    stop = threading.Event()
    folder = empty_archive.settings.articles_dir
    watcher = folder_watcher(empty_archive, folder, stop)
    try:
        time.sleep(0.5)  # the watcher is set up
        (folder / "flash.txt").write_text(
            "Quarry blast shakes Lindmoor\n\nA blast at the Lindmoor quarry shook houses.\n",
            encoding="utf-8",
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not empty_archive.search("lindmoor quarry").hits:
            time.sleep(0.2)
        assert empty_archive.search("lindmoor quarry").hits, "not searchable within 10 s"
        # A hidden or non-article file changes nothing.
        (folder / ".draft.txt").write_text("Secret\n\nlindmoor draft\n", encoding="utf-8")
        (folder / "notes.json").write_text("{}", encoding="utf-8")
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


HOSTILE_RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire &amp; Co</title>
<item><title>&lt;!here&gt; Dockers strike at Ostrava port</title><guid>hostile-1</guid>
<link>https://wire.example/strike</link>
<description><![CDATA[<p>Dockers at Ostrava walked out. <script>steal()</script>
<a href="javascript:alert(1)">&lt;!channel&gt; read this</a> &lt;@U0VICTIM&gt; *bold*</p>]]>
</description>
</item></channel></rss>"""


def test_hostile_text_in_a_feed_is_inert_in_slack(feeds: Any, archive: Archive, slack: Any) -> None:
    state, base = feeds
    state.bodies["/hostile"] = HOSTILE_RSS.encode()
    fetched, _ = archive.ingest_feed(base + "/hostile")
    assert fetched.status == "ok"
    reply = slack.command("/news", "dockers ostrava")
    shown = json.dumps(reply.blocks)
    assert "Dockers" in shown
    assert "steal()" not in shown and "javascript:" not in shown
    for control in ("<!channel>", "<!here>", "<@U0VICTIM>"):
        assert control not in shown and control not in reply.text
    assert "&lt;!channel&gt;" in shown  # shown as text, not as a mention
