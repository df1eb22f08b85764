"""``monitor subscribe``, ``monitor unsubscribe``, ``monitor subscriptions list``.

Targets have one syntax for every channel: ``slack:https://hooks.slack.com/…``,
``email:alice@example.org``, ``webhook:https://…``. A target is accepted only for a channel
this installation has (``alerts.CHANNEL_KINDS``) and only if that channel validates it.
"""

from __future__ import annotations

import re
import secrets
import zoneinfo
from typing import TYPE_CHECKING, Annotated

import typer

from alerts.base import mask_target, split_target
from monitor.cli import app
from monitor.cli.common import (
    MAX_ID,
    DbOpt,
    JsonOpt,
    PlainTyper,
    console,
    fail,
    open_db,
    print_json,
    print_table,
)
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from monitor.models import Subscription

subscriptions_app = PlainTyper(rich_markup_mode=None, help="Who hears about which watchlist.", no_args_is_help=True)
app.add_typer(subscriptions_app, name="subscriptions")

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
TARGET_EXAMPLES = "slack:https://hooks.slack.com/…, email:alice@example.org, webhook:https://…"


def check_target(target: str) -> tuple[str, str]:
    """(channel, normalised target), or a ConfigError saying what is wrong with it."""
    from alerts import CHANNEL_KINDS

    if target.startswith(("http://", "https://")):  # a bare URL: say which prefix it needs
        slack = "hooks.slack.com" in target
        raise ConfigError(f"a target names its channel: {'slack' if slack else 'webhook'}:{mask_target(target)}"
                          f" (targets look like {TARGET_EXAMPLES})")
    if ":" not in target and "@" in target:  # a bare address, likewise
        raise ConfigError(f"a target names its channel: email:{target} (targets look like {TARGET_EXAMPLES})")
    kind, address = split_target(target)
    cls = CHANNEL_KINDS.get(kind)
    if cls is None:
        raise ConfigError(f"channel {kind!r} is not available in this installation "
                          f"(available: {', '.join(sorted(CHANNEL_KINDS))})")
    if "://" not in address and kind in ("slack", "webhook"):
        raise ConfigError(f"{kind}: needs a full URL with https://, e.g. {kind}:https://{address.lstrip('/')}"
                          if "/" in address or "." in address else
                          f"{kind}: needs a URL, e.g. {TARGET_EXAMPLES}")
    return kind, f"{kind}:{cls.validate(address)}"


def _check_at(value: str | None) -> str | None:
    if value is not None and not HHMM.match(value):
        raise typer.BadParameter(f"{value!r} is not a time of day as HH:MM (e.g. 07:30)")
    return value


def _check_tz(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"{value!r} is not an IANA time zone (e.g. America/Chicago, UTC)") from None
    return value


@app.command()
def subscribe(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The watchlist name.")],
    target: Annotated[str, typer.Argument(metavar="TARGET", help=f"Where to send: {TARGET_EXAMPLES}")],
    digest: Annotated[str | None, typer.Option("--digest", metavar="daily",
                                               help="Send a digest instead of immediate alerts: daily.",
                                               show_default=False)] = None,
    at: Annotated[str | None, typer.Option("--at", metavar="HH:MM", callback=_check_at, help="Digest time, HH:MM local "
                                           "(default 07:30).", show_default=False)] = None,
    tz: Annotated[str | None, typer.Option("--tz", metavar="ZONE", callback=_check_tz,
                                           help="Digest time zone, IANA name (default UTC).",
                                           show_default=False)] = None,
    immediate: Annotated[bool, typer.Option("--immediate", help="Alert on every change as it is found "
                                            "(the default).")] = False,
    send_empty: Annotated[bool, typer.Option("--send-empty", help="With --digest: send it on a day with no news "
                                             "too, saying so.")] = False,
    db: DbOpt = None,
) -> None:
    """Subscribe a target to a watchlist: immediate alerts, or a daily digest at a local time.

    Example: monitor subscribe bivens slack:https://hooks.slack.com/services/T000/B000/XXXX
    --digest daily --at 07:30 --tz America/Chicago
    """
    if digest is not None and digest != "daily":
        raise typer.BadParameter(f"--digest {digest!r}: the only digest is 'daily'")
    if digest and immediate:
        raise typer.BadParameter("--digest and --immediate exclude each other")
    if digest is None and (at or tz or send_empty):
        raise typer.BadParameter("--at, --tz and --send-empty apply to --digest daily")
    from sqlalchemy import func, select

    from alerts.webhook import new_secret
    from monitor.cli import watchlist_admin as wl
    from monitor.models import Subscription

    channel, target = check_target(target)
    mode, digest_at, timezone = ("digest", at or "07:30", tz or "UTC") if digest else ("immediate", None, None)
    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        # a mailbox is one however its capitals are written (providers treat the local part so too)
        same = (func.lower(Subscription.target) == target.lower() if channel == "email"
                else Subscription.target == target)
        existing = session.scalar(select(Subscription).where(Subscription.watchlist_id == watchlist.id, same))
        before = _how(existing) if existing is not None else None
        asked = digest is not None or immediate
        if existing is not None and existing.enabled and (
                not asked or (mode, digest_at, timezone, send_empty) == (existing.mode, existing.digest_at,
                                                                        existing.timezone, existing.send_empty_digest)):
            fail(f"{mask_target(target)} is already subscribed to {name} (subscription {existing.id}, {before})")
        signing = new_secret() if channel == "webhook" and existing is None else None
        sub = existing or Subscription(watchlist_id=watchlist.id, channel=channel, target=target, secret=signing,
                                       unsubscribe_token=secrets.token_urlsafe(24))
        # one row per target, changed in place: what waits for it is kept (a disabled one is turned back on)
        was = ""
        if existing is not None:
            was = (f", changed (was: {before})" if existing.enabled
                   else f", enabled again (was: {existing.disabled_reason or 'disabled'})")
            if existing.mode == "digest" and mode == "immediate":
                _digest_rows_go_now(session, existing)
        sub.enabled, sub.disabled_reason = True, None
        sub.mode, sub.digest_at, sub.timezone, sub.send_empty_digest = mode, digest_at, timezone, send_empty
        session.add(sub)
        session.flush()
        shown = f"subscription {sub.id}: {mask_target(target)} → {name} ({_how(sub)}){was}"
    # committed before anything is printed: `monitor subscribe … | head -1` keeps the subscription
    console.print(shown, markup=False)
    if signing:
        console.print(f"signing secret (shown once; verify webhook-signature with it): {signing}", markup=False)


def _how(sub: Subscription) -> str:
    how = f"daily digest at {sub.digest_at} {sub.timezone}" if sub.mode == "digest" else "immediate"
    return how + (", also on days with no news" if sub.send_empty_digest else "")


def _digest_rows_go_now(session: Session, sub: Subscription) -> None:
    """A digest subscriber switching to immediate alerts gets what waited for the digest now, as one alert."""
    from sqlalchemy import update

    from monitor.models import Delivery, utcnow
    from monitor.outbox.states import DeliveryKind, DeliveryState

    now = utcnow()
    session.execute(update(Delivery).where(Delivery.subscription_id == sub.id, Delivery.kind == DeliveryKind.DIGEST,
                                           Delivery.state == DeliveryState.QUEUED)
                    .values(kind=DeliveryKind.ALERT, state=DeliveryState.PENDING, group_key=f"switched:s{sub.id}",
                            next_attempt_at=now))


@app.command()
def unsubscribe(
    what: Annotated[str, typer.Argument(metavar="WHAT",
                                        help="A subscription id, or a watchlist name (then give TARGET).")],
    target: Annotated[str | None, typer.Argument(metavar="TARGET", help="The target, with a watchlist name.",
                                                 show_default=False)] = None,
    db: DbOpt = None,
) -> None:
    """Remove a subscription by its id, or by watchlist name and target.

    Example: monitor unsubscribe bivens slack:https://hooks.slack.com/services/T000/B000/XXXX
    """
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.models import Subscription

    database = open_db(db, create=False)
    with database.session() as session:
        if what.isdigit() and target is None:
            sub = session.get(Subscription, int(what)) if int(what) <= MAX_ID else None
            if sub is None:
                fail(f"no subscription {what} (see `monitor subscriptions list`)")
        else:
            if target is None:
                raise typer.BadParameter("give a subscription ID, or a watchlist NAME and a TARGET")
            watchlist = wl.get(session, what)
            sub = session.scalar(select(Subscription).where(Subscription.watchlist_id == watchlist.id,
                                                            Subscription.target.in_([target, _normalised(target)])))
            if sub is None:
                fail(f"{mask_target(target)} is not subscribed to {what}")
        shown = f"subscription {sub.id}: {mask_target(sub.target)} → {sub.watchlist.name}"
        session.delete(sub)
    console.print(f"removed {shown}", markup=False)


def _normalised(target: str) -> str:
    try:
        return check_target(target)[1]
    except ConfigError:
        return target


@subscriptions_app.command("list")
def subscriptions_list(
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w", metavar="NAME", help="Only this watchlist's.",
                                                  show_default=False)] = None,
    db: DbOpt = None, json_out: JsonOpt = False,
) -> None:
    """List subscriptions (targets are shown masked).

    Example: monitor subscriptions list --watchlist bivens --json
    """
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.models import Subscription, Watchlist

    database = open_db(db, create=False)
    with database.session() as session:
        query = select(Subscription).join(Watchlist).order_by(Subscription.id)
        if watchlist:
            query = query.where(Watchlist.name == wl.get(session, watchlist).name)
        rows = list(session.scalars(query))
        data = [{"id": s.id, "watchlist": s.watchlist.name, "channel": s.channel, "target": mask_target(s.target),
                 "mode": s.mode, "digest_at": s.digest_at, "timezone": s.timezone, "enabled": s.enabled,
                 "disabled_reason": s.disabled_reason} for s in rows]
    if json_out:
        print_json(data)
        return
    print_table(["id", "watchlist", "target", "mode", "enabled", "disabled because"],
                [[d["id"], d["watchlist"], d["target"],
                  f"digest {d['digest_at']} {d['timezone']}" if d["mode"] == "digest" else d["mode"],
                  d["enabled"], d["disabled_reason"]] for d in data])
