"""Deliver the digest to a channel exactly once, through the ledger. No Slack import here.

The content builder and the poster are injected:

- ``build(since, until, digest_date) -> content`` (e.g. ``bot.digest.build.build_digest`` bound to a
  store). ``content`` is opaque here; it counts as empty when it has an empty ``stories``.
- ``post(channel, content, marker) -> ts`` posts it and returns the message ``ts``. It must attach
  ``marker`` to the message (Slack message metadata, e.g. ``event_type="newsbot_digest"`` and
  ``event_payload={"marker": marker}``) and raise the :class:`PostError` subclasses below.
- ``find_existing(channel, marker) -> ts | None`` looks for a message carrying ``marker`` in the
  channel's recent history. It is what lets a digest whose post was interrupted (crash or timeout
  after the request left) be resolved without a duplicate: found -> marked sent, not found ->
  posted. Without it such a digest is held (never re-posted blindly) and an error says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.digest.ledger import Claim, Ledger, Refusal, as_utc
from bot.store import Store, utcnow

log = logging.getLogger("newsbot.delivery")

Build = Callable[[datetime, datetime, date], Any]
Post = Callable[[str, Any, str], str]
FindExisting = Callable[[str, str], "str | None"]


class PostError(Exception):
    """A digest post failed. Messages carry no token. ``in_doubt``: Slack may have the message."""

    in_doubt = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotInChannel(PostError):
    """Slack said ``not_in_channel``: the bot must be invited."""


class ChannelNotFound(PostError):
    """Slack said ``channel_not_found``: a wrong id, or a private channel the bot is not in."""


class RateLimited(PostError):
    """HTTP 429 / ``ratelimited``; ``retry_after`` is Slack's Retry-After in seconds."""


class SlackUnavailable(PostError):
    """HTTP 5xx or a Slack-side error answer: the message was not posted."""


class HistoryUnavailable(PostError):
    """The channel history cannot be read (the optional channels:history / groups:history scopes
    are not granted): an interrupted digest is held for ``newsbot digest --post --resend``."""


# How long a held digest waits before the scheduler looks again (``--resend`` releases it at once).
HOLD = timedelta(hours=6)


class PostInDoubt(PostError):
    """The request left but no answer came back (timeout, connection dropped)."""

    in_doubt = True


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one (channel, digest date).

    status: 'sent' (posted now), 'recovered' (an interrupted post was found in the channel),
    'empty' (nothing new and skip_empty: delivered without a post), 'already_sent', 'busy'
    (another process holds the claim), 'waiting' (a failed attempt's backoff is running),
    'failed' (will be retried), 'held' (an earlier post may have reached Slack and cannot be
    checked: not re-posted).
    """

    channel: str
    digest_date: date
    status: str
    ts: str | None = None
    error: str | None = None
    covers_from: datetime | None = None
    covers_to: datetime | None = None
    attempts: int = 0

    @property
    def delivered(self) -> bool:
        return self.status in ("sent", "recovered", "empty", "already_sent")

    def describe(self) -> str:
        """One line for the CLI: ``C0123 2024-03-11: sent (ts 1712.0001)``."""
        head = f"{self.channel} {self.digest_date}: {self.status.replace('_', ' ')}"
        if self.ts:
            head += f" (ts {self.ts})"
        if self.error and not self.delivered:
            head += f": {self.error}"
        return head


def digest_marker(channel: str, digest_date: date) -> str:
    """The unique marker a digest message carries, to find it again after a crash."""
    return f"newsbot-digest:{channel}:{digest_date.isoformat()}"


def is_empty(content: Any) -> bool:
    """Empty when there is no content or its ``stories`` is empty."""
    if content is None:
        return True
    stories = getattr(content, "stories", None)
    if stories is not None:
        return len(stories) == 0
    try:
        return len(content) == 0
    except TypeError:
        return False


def coverage_start(ledger: Ledger, channel: str, now: datetime, lookback_hours: int) -> datetime:
    """Since the end of the last delivered digest, or ``lookback_hours`` before ``now``."""
    last = ledger.last_delivered(channel)
    return last if last is not None else as_utc(now) - timedelta(hours=lookback_hours)


def _refused(refusal: Refusal) -> DeliveryResult:
    row = refusal.row
    status = "already_sent" if refusal.reason == "sent" else refusal.reason
    if refusal.reason == "busy":
        log.info(
            "digest %s %s: being delivered by %s; not touching it",
            refusal.channel,
            refusal.digest_date,
            row.claimed_by,
        )
    elif refusal.reason == "waiting":
        log.info(
            "digest %s %s: attempt %d failed (%s); next try after %s",
            refusal.channel,
            refusal.digest_date,
            row.attempts,
            row.last_error,
            row.lease_until,
        )
    else:
        log.debug("digest %s %s: already sent (ts %s)", row.channel, row.digest_date, row.ts)
    return DeliveryResult(
        refusal.channel,
        refusal.digest_date,
        status,
        ts=row.ts,
        error=row.last_error,
        covers_from=row.covers_from,
        covers_to=row.covers_to,
        attempts=row.attempts,
    )


def _failure_message(channel: str, exc: BaseException) -> str:
    if isinstance(exc, NotInChannel):
        return (
            f"the bot is not a member of channel {channel}: open that channel in Slack and type"
            " `/invite @newsbot` (or add the app in the channel's settings)"
        )
    if isinstance(exc, ChannelNotFound):
        return (
            f"channel {channel} was not found: check DIGEST_CHANNEL (a channel id like"
            " C0123456789); for a private channel, `/invite @newsbot` there first"
        )
    if isinstance(exc, RateLimited):
        return f"rate limited by Slack (retry after {exc.retry_after or '?'} s)"
    if isinstance(exc, SlackUnavailable):
        return f"Slack is unavailable: {exc}"
    if isinstance(exc, PostInDoubt):
        return f"no answer from Slack, the post may have gone through: {exc}"
    return f"{type(exc).__name__}: {exc}"


def deliver_digest(
    store: Store,
    channel: str,
    digest_date: date,
    build: Build,
    post: Post,
    *,
    now: datetime | None = None,
    lookback_hours: int = 24,
    skip_empty: bool = False,
    find_existing: FindExisting | None = None,
    ignore_backoff: bool = False,
    ledger: Ledger | None = None,
) -> DeliveryResult:
    """Deliver the digest of ``digest_date`` to ``channel`` at most once, retrying until it is.

    Never raises for a failed post: the result says what happened, the log says what to do,
    and the ledger keeps the digest retryable. The window is [last delivered, now).
    """
    ledger = ledger or Ledger(store)
    # ``until`` is taken before the claim, whose ledger lock waits for any ingest transaction in
    # flight (see the store's ``ledger_lock``): an article stamped first_seen < until is
    # committed (visible to the build below), and one stamped later falls in the next window.
    # No article slips between.
    until = as_utc(now) if now is not None else ledger.clock()
    claim = ledger.claim(channel, digest_date, ignore_backoff=ignore_backoff)
    if isinstance(claim, Refusal):
        return _refused(claim)
    if claim.in_doubt:
        resolved = _resolve_in_doubt(ledger, claim, find_existing)
        if resolved is not None:
            return resolved
    since = coverage_start(ledger, channel, until, lookback_hours)
    if since > until:  # clock skew or a back-dated run: never a negative window
        since = until
    tag = f"digest {channel} {digest_date} (attempt {claim.attempts})"

    try:
        content = build(since, until, digest_date)
    except Exception as exc:
        log.exception("%s: building the digest failed; will retry", tag)
        ledger.mark_failed(claim, f"build failed: {type(exc).__name__}: {exc}")
        return DeliveryResult(
            channel, digest_date, "failed", error=str(exc), attempts=claim.attempts
        )

    if skip_empty and is_empty(content):
        ledger.mark_sent(claim, None, covers_from=since, covers_to=until)
        log.info("%s: nothing new since %s; nothing posted (DIGEST_SKIP_EMPTY)", tag, since)
        return DeliveryResult(
            channel,
            digest_date,
            "empty",
            covers_from=since,
            covers_to=until,
            attempts=claim.attempts,
        )

    if not ledger.begin_post(claim, since, until):
        log.warning("%s: lost the claim before posting (lease ran out); not posting", tag)
        return DeliveryResult(channel, digest_date, "busy", attempts=claim.attempts)

    marker = digest_marker(channel, digest_date)
    try:
        ts = post(channel, content, marker)
    except Exception as exc:
        message = _failure_message(channel, exc)
        in_doubt = not isinstance(exc, PostError) or exc.in_doubt
        retry_after = None
        if isinstance(exc, PostError) and exc.retry_after is not None:
            retry_after = timedelta(seconds=max(float(exc.retry_after), 1.0))
        ledger.mark_failed(claim, message, retry_after=retry_after, in_doubt=in_doubt)
        row = ledger.get(channel, digest_date)
        when = row.lease_until if row else None
        if isinstance(exc, PostError):
            log.error("%s not delivered: %s; will retry after %s", tag, message, when)
        else:
            log.exception("%s not delivered: %s; will retry after %s", tag, message, when)
        return DeliveryResult(
            channel,
            digest_date,
            "failed",
            error=message,
            covers_from=since,
            covers_to=until,
            attempts=claim.attempts,
        )

    ledger.mark_sent(claim, ts)
    log.info("%s: posted, ts %s, covering %s to %s", tag, ts, since, until)
    return DeliveryResult(
        channel,
        digest_date,
        "sent",
        ts=ts,
        covers_from=since,
        covers_to=until,
        attempts=claim.attempts,
    )


def _resolve_in_doubt(
    ledger: Ledger, claim: Claim, find_existing: FindExisting | None
) -> DeliveryResult | None:
    """An earlier post may have reached Slack. Returns a result, or None to go on and post."""
    prev = claim.previous
    tag = f"digest {claim.channel} {claim.digest_date} (attempt {claim.attempts})"
    if find_existing is None:
        message = (
            "an earlier attempt was interrupted after its post left, and the channel history"
            " cannot be checked; not re-posting to avoid a duplicate. Look in the channel: if"
            " the digest is not there, release it with `newsbot digest --post --resend`"
        )
        log.error("%s held: %s", tag, message)
        ledger.mark_failed(claim, message, in_doubt=True)
        return DeliveryResult(
            claim.channel, claim.digest_date, "held", error=message, attempts=claim.attempts
        )
    marker = digest_marker(claim.channel, claim.digest_date)
    try:
        ts = find_existing(claim.channel, marker)
    except HistoryUnavailable as exc:
        message = (
            f"an earlier attempt was interrupted after its post left, and {exc}; not re-posting"
            " to avoid a duplicate. Look in the channel: if the digest is not there, release it"
            " with `newsbot digest --post --resend`"
        )
        log.error("%s held: %s", tag, message)
        ledger.mark_failed(claim, message, in_doubt=True, retry_after=HOLD)
        return DeliveryResult(
            claim.channel, claim.digest_date, "held", error=message, attempts=claim.attempts
        )
    except Exception as exc:
        message = f"could not check the channel history for an interrupted post: {exc}"
        log.error("%s held: %s; will retry", tag, message)
        ledger.mark_failed(claim, message, in_doubt=True)
        return DeliveryResult(
            claim.channel, claim.digest_date, "held", error=message, attempts=claim.attempts
        )
    if ts is None:
        log.warning("%s: the interrupted post is not in the channel; posting it now", tag)
        return None
    ledger.mark_sent(claim, ts)
    log.warning("%s: the interrupted post did reach the channel (ts %s); marked sent", tag, ts)
    return DeliveryResult(
        claim.channel,
        claim.digest_date,
        "recovered",
        ts=ts,
        covers_from=prev.covers_from if prev else None,
        covers_to=prev.covers_to if prev else None,
        attempts=claim.attempts,
    )


# -- for the scheduler and the CLI -----------------------------------------------------------


def digest_date_for(settings: Any, now: datetime) -> date:
    """The digest date of ``now``: its local date in DIGEST_TIMEZONE."""
    return as_utc(now).astimezone(settings.tz).date()


def deliver_all(
    settings: Any,
    store: Store,
    digest_date: date,
    build: Build,
    post: Post,
    *,
    now: datetime | None = None,
    find_existing: FindExisting | None = None,
    ignore_backoff: bool = False,
    channels: Sequence[str] | None = None,
) -> list[DeliveryResult]:
    """Deliver ``digest_date``'s digest to every DIGEST_CHANNEL (or ``channels``)."""
    results = []
    for channel in channels if channels is not None else settings.digest_channels:
        results.append(
            deliver_digest(
                store,
                channel,
                digest_date,
                build,
                post,
                now=now,
                lookback_hours=settings.digest_lookback_hours,
                skip_empty=settings.digest_skip_empty,
                find_existing=find_existing,
                ignore_backoff=ignore_backoff,
            )
        )
    return results


@dataclass(frozen=True, slots=True)
class DigestPreview:
    digest_date: date
    channels: tuple[str, ...]
    since: datetime
    until: datetime
    content: Any


def preview_digest(
    settings: Any, store: Store, build: Build, *, now: datetime | None = None
) -> DigestPreview:
    """The next digest as it would be posted now, without posting or touching the ledger.

    With several channels the window starts at the earliest of their starts.
    """
    until = as_utc(now) if now is not None else utcnow()
    ledger = Ledger(store)
    channels = tuple(settings.digest_channels)
    starts = [
        coverage_start(ledger, c, until, settings.digest_lookback_hours) for c in channels
    ] or [until - timedelta(hours=settings.digest_lookback_hours)]
    since = min(min(starts), until)
    digest_date = digest_date_for(settings, until)
    return DigestPreview(digest_date, channels, since, until, build(since, until, digest_date))


def post_digest_now(
    settings: Any,
    store: Store,
    build: Build,
    post: Post,
    *,
    now: datetime | None = None,
    find_existing: FindExisting | None = None,
    resend: bool = False,
) -> list[DeliveryResult]:
    """``newsbot digest --post``: deliver today's digest now, through the same ledger.

    Skips the retry backoff (the operator asked); never posts a digest already sent today.
    ``resend`` releases a digest held in doubt after the operator checked it is not there.
    """
    when = as_utc(now) if now is not None else utcnow()
    digest_date = digest_date_for(settings, when)
    if resend:
        ledger = Ledger(store)
        for channel in settings.digest_channels:
            if ledger.release_in_doubt(channel, digest_date):
                log.warning("digest %s %s: released for a re-post", channel, digest_date)
    return deliver_all(
        settings,
        store,
        digest_date,
        build,
        post,
        now=when,
        find_existing=find_existing,
        ignore_backoff=True,
    )
