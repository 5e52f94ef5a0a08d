"""Content admin in the private chat: /admin, a pack sent as a document, /publish,
/rollback. Thin: the admin check, unpacking the update, the service call, rendering.

Everyone who is not in ADMIN_IDS gets exactly the unknown-command reply and the attempt is
audited. The admin's own texts live here rather than in the pack being administered, so a
bad pack can never take away the means to roll it back.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.content_upload import UploadRefused, check_declared_size
from bot.content_view import diff_report
from bot.context import BotApplication, BotContext
from bot.domain.content_diff import SECTIONS, PackDiff
from bot.domain.dry_run import DryRunRow
from bot.domain.snippets import render_snippet
from bot.services import content_admin as svc
from bot.services.kernel import Duplicate
from handlers.render import esc, send_html

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^adm\|"
_CALLBACK = re.compile(r"^adm\|(pub|pubw|rbw|audit)(?:\|(\d{1,9}))?$")
PREVIEW_LIMIT = 12  # changed messages sent as people would get them
EXCERPT_CHARS = 300
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH
PACK_DOCUMENTS = (
    filters.Document.FileExtension("zip")
    | filters.Document.FileExtension("yaml")
    | filters.Document.FileExtension("yml")
)


def _fits(lines: Sequence[str], *, more: str = "… and {n} more") -> str:
    """Join lines into one Telegram message, dropping the tail with a count if needed."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        tail = more.format(n=len(lines) - index)
        if used + len(line) + 1 > MAX_TEXT - len(tail) - 2:
            out.append(esc(tail))
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _excerpt(text: str | None) -> str:
    if text is None:
        return "—"
    flat = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    return esc(flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…")


async def not_admin(update: Update, context: BotContext, action: svc.Action) -> bool:
    """True (after the unknown-command reply and an audit row) for anyone not an admin."""
    user = update.effective_user
    deps = context.deps
    if user is not None and deps.admin.is_admin(user.id):
        return False
    if user is not None:
        await deps.admin.refuse(user.id, update.update_id, action)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await send_html(update, esc(deps.texts("unknown_command")))
    return True


def _ids(update: Update) -> tuple[int, int]:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    return user.id, update.update_id


def _version_arg(context: BotContext) -> int | str | None:
    """The VERSION argument: a number, None when absent, "bad" otherwise."""
    args = context.args or []
    if not args:
        return None
    raw = args[0].removeprefix("#")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else "bad"


# --- /admin --------------------------------------------------------------------------


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if hasattr(moment, "strftime") else "—"


def overview_text(view: svc.AdminOverview) -> str:
    if view.live is None:
        live = f"shipped pack {esc(view.shipped_version)} (nothing published yet)"
    else:
        live = f"#{view.live.id} — pack {esc(view.live.pack_version)} ({esc(view.live.origin)})"
    lines = ["<b>Content admin</b>", f"Live: {live}", "", "<b>Pending uploads</b>"]
    lines += [
        f"#{item.id} — pack {esc(item.pack_version)}, from {item.uploaded_by}, "
        f"{_when(item.created_at)}"
        for item in view.pending
    ] or ["none"]
    lines += ["", "<b>Last versions made live</b>"]
    lines += [
        f"#{p.version_id} ({p.action}, was #{p.previous_version_id}) by "
        f"{p.actor_id if p.actor_id is not None else 'the CLI'}, {_when(p.at)}"
        for p in view.publications
    ] or ["none"]
    lines += ["", "<b>Recent audit</b>"]
    lines += [
        f"{_when(e.at)} {e.actor_id} {esc(e.action)} → {esc(e.outcome)}"
        + (f" #{e.version_id}" if e.version_id is not None else "")
        + (f" ({esc(e.detail)})" if e.detail else "")
        for e in view.audit
    ] or ["none"]
    lines += [
        "",
        "Send a .zip of the pack (or one .yaml file) to upload; /publish, /rollback [VERSION]; "
        "/announce to send everyone a message.",
    ]
    return _fits(lines)


async def admin_command(update: Update, context: BotContext) -> None:
    if await not_admin(update, context, "admin"):
        return
    user_id, update_id = _ids(update)
    deps = context.deps
    if not await deps.admin.note(user_id, update_id, "admin", "viewed"):
        return
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Export the audit log (CSV)", callback_data="adm|audit")]]
    )
    await send_html(update, overview_text(await deps.admin.overview()), keyboard)


# --- upload --------------------------------------------------------------------------


def problems_text(problems: Sequence[object]) -> str:
    lines = [f"<b>Content pack rejected</b>: {len(problems)} problem(s), nothing was stored.", ""]
    lines += [esc(str(problem)) for problem in problems]
    return _fits(lines)


def diff_lines(diff: PackDiff) -> list[str]:
    labels = dict(SECTIONS)
    lines: list[str] = []
    for change in diff.changes:
        head = f"<b>{esc(labels[change.section])}</b> {change.kind} <code>{esc(change.id)}</code>"
        if change.kind == "changed":
            lines.append(f"{head}\n  {_excerpt(change.before)}\n  → {_excerpt(change.after)}")
        elif change.kind == "added":
            lines.append(f"{head}\n  → {_excerpt(change.after)}")
        else:
            lines.append(f"{head}\n  was: {_excerpt(change.before)}")
    for moved in diff.thresholds:
        lines.append(
            f"<b>Rule threshold</b> <code>{esc(moved.rule_id)}</code> {esc(moved.condition)}: "
            f"{esc(moved.before or '—')} → {esc(moved.after or '—')}"
        )
    return lines


def dry_run_lines(rows: Sequence[DryRunRow]) -> list[str]:
    lines = ["<b>Dry run of the matching rules</b> (snippets each sample check-in gets):"]
    for row in rows:
        before, after = ", ".join(row.before) or "none", ", ".join(row.after) or "none"
        change = f"{esc(before)} → {esc(after)}" if row.changed else f"{esc(after)} (unchanged)"
        lines.append(f"• {esc(row.label)}: {change}")
    return lines


def staged_text(staged: svc.UploadStaged) -> str:
    diff = staged.diff
    source = (
        "a whole pack (.zip)"
        if staged.unpacked.kind == "zip"
        else f"{esc(', '.join(staged.unpacked.replaced))} replacing the live one"
    )
    lines = [
        f"<b>Valid.</b> Version #{staged.version} — pack {esc(staged.pack_version)}, "
        f"from {source}.",
        f"Compared with the live pack {esc(diff.old_version)}: {diff.count('added')} added, "
        f"{diff.count('changed')} changed, {diff.count('removed')} removed, "
        f"{len(diff.thresholds)} threshold change(s).",
    ]
    if staged.live:
        lines.append("This is exactly the live version: nothing to publish.")
    elif staged.existing:
        lines.append(f"Identical to the stored version #{staged.version}.")
    if diff.old_version == diff.new_version and not diff.empty:
        lines.append("Note: pack.yaml's version is unchanged; consider raising it.")
    if diff.vanishing_buttons:
        lines.append(
            "<b>Warning</b>: buttons people already have point at ids this pack removes "
            "(pressing them will get the stale-button reply): "
            + esc(", ".join(diff.vanishing_buttons))
        )
    if diff.weaker:
        lines.append(
            "<b>Warning — weaker red flags</b>: "
            + esc("; ".join(diff.weaker))
            + ". Publishing needs a second confirmation."
        )
    lines.append("")
    lines += diff_lines(diff) or ["No visible text changes."]
    return _fits(lines, more="… and {n} more changes: the whole diff is in the file below")


def diff_document(diff: PackDiff) -> bytes:
    """The whole diff as plain text, for packs whose diff does not fit one message."""
    return ("\n".join(diff_report(diff)) + "\n").encode("utf-8")


_SAMPLE = {
    "day": "Tue 3 Dec",
    "summary": "mild (eyelid), 6.5 h sleep, 190 mg caffeine, 1.5 l water",
    "timezone": "Europe/Berlin",
    "reminder": "09:00",
}


class _Sample(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return _SAMPLE.get(key, f"‹{key}›")


def preview_messages(staged: svc.UploadStaged) -> list[str]:
    """The changed and added texts as people would get them (Telegram HTML)."""
    bundle = staged.bundle
    out: list[str] = []
    for change in staged.diff.changes:
        if change.after is None:
            continue
        if change.section == "snippets":
            out.append(render_snippet(bundle.pack.snippet(change.id)))
        elif change.section == "messages":
            template = bundle.texts.templates[change.id]
            out.append(esc(template.format_map(_Sample()).strip()))
        elif change.section == "questions":
            out.append(esc(bundle.questions[change.id].text.strip()))
    return out


async def document(update: Update, context: BotContext) -> None:
    """A content pack sent as a document: defences, validation, diff, preview."""
    if await not_admin(update, context, "upload"):
        return
    message = update.effective_message
    if message is None or message.document is None:
        return
    user_id, update_id = _ids(update)
    deps = context.deps
    doc = message.document
    name = doc.file_name or "upload.bin"
    try:
        check_declared_size(name, doc.file_size)
    except UploadRefused as refused:
        await deps.admin.note(user_id, update_id, "upload", "refused_file", str(refused))
        await send_html(update, f"<b>Not accepted</b>: {esc(str(refused))}")
        return
    telegram_file = await doc.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    result = await deps.admin.upload(user_id, update_id, name, data)
    match result:
        case Duplicate():
            return
        case svc.UploadRefusedResult(reason=reason):
            await send_html(update, f"<b>Not accepted</b>: {esc(reason)}")
        case svc.UploadInvalid(problems=problems):
            await send_html(update, problems_text(problems))
        case svc.UploadStaged() as staged:
            summary = staged_text(staged)
            await send_html(update, summary)
            if staged.live:
                return
            chat = update.effective_chat
            if "whole diff is in the file below" in summary and chat is not None:
                await chat.send_document(
                    diff_document(staged.diff),
                    filename=f"twitchcheck-diff-{staged.version}.txt",
                    caption=f"Everything version #{staged.version} changes, before → after.",
                )
            await send_html(update, _fits(dry_run_lines(staged.dry_run)))
            previews = preview_messages(staged)
            if previews:
                await send_html(
                    update,
                    f"<b>Preview</b>: {min(len(previews), PREVIEW_LIMIT)} of {len(previews)} "
                    "changed message(s), exactly as people would get them:",
                )
            for text in previews[:PREVIEW_LIMIT]:
                await send_html(update, text)
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            f"Publish #{staged.version}", callback_data=f"adm|pub|{staged.version}"
                        )
                    ]
                ]
            )
            await send_html(
                update,
                f"Send /publish {staged.version} (or tap below) to make version "
                f"#{staged.version} live for everyone.",
                keyboard,
            )


# --- publish and rollback ------------------------------------------------------------


def switch_reply(result: svc.SwitchResult) -> tuple[str, InlineKeyboardMarkup | None]:
    match result:
        case svc.Switched(version=version, previous=previous, pack_version=pack, action=action):
            verb = "published" if action == "publish" else "rolled back to"
            return (
                f"Done: {verb} version #{version} (pack {esc(pack)}); it was #{previous}. Every "
                "instance switches within seconds; check-ins already under way finish on the "
                "version they began with. /rollback undoes this.",
                None,
            )
        case svc.NeedsConfirmation(version=version, weaker=weaker, action=action):
            data = f"adm|{'pubw' if action == 'publish' else 'rbw'}|{version}"
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            f"Yes, weaker red flags: make #{version} live", callback_data=data
                        )
                    ]
                ]
            )
            lines = [
                f"<b>Version #{version} has weaker red flags than the live one</b>:",
                *(f"• {esc(item)}" for item in weaker),
                "",
                "People could miss a sign the live pack catches. Confirm only if that is intended.",
            ]
            return _fits(lines), keyboard
        case svc.NotSwitched(reason=reason, version=version):
            texts = {
                "nothing_pending": "Nothing pending: upload a pack first (a .zip or a .yaml file).",
                "unknown_version": f"There is no version #{version}.",
                "already_live": f"Version #{version} is already live.",
                "nothing_before": "Nothing to roll back to: no version was published before.",
            }
            return esc(texts[reason]), None
    raise AssertionError(result)


async def _switch(update: Update, context: BotContext, action: svc.Action) -> None:
    if await not_admin(update, context, action):
        return
    user_id, update_id = _ids(update)
    version = _version_arg(context)
    if version == "bad":
        await send_html(update, esc(f"Usage: /{action} [VERSION], e.g. /{action} 3"))
        return
    number = version if isinstance(version, int) else None
    service = context.deps.admin
    if action == "publish":
        result = await service.publish(user_id, update_id, number)
    else:
        result = await service.rollback(user_id, update_id, number)
    if isinstance(result, Duplicate):
        return
    text, keyboard = switch_reply(result)
    await send_html(update, text, keyboard)


async def publish_command(update: Update, context: BotContext) -> None:
    await _switch(update, context, "publish")


async def rollback_command(update: Update, context: BotContext) -> None:
    await _switch(update, context, "rollback")


async def button(update: Update, context: BotContext) -> None:
    """Publish, confirm weaker red flags, export the audit log."""
    query = update.callback_query
    if query is None:
        return
    match = _CALLBACK.match(query.data or "")
    action: svc.Action = "publish"
    if match and match[1] == "rbw":
        action = "rollback"
    elif match and match[1] == "audit":
        action = "export_audit"
    if await not_admin(update, context, action):
        return
    await query.answer()
    if match is None:
        return
    user_id, update_id = _ids(update)
    service = context.deps.admin
    if match[1] == "audit":
        if not await service.note(user_id, update_id, "export_audit", "done"):
            return
        chat = update.effective_chat
        if chat is not None:
            await chat.send_document(
                await service.audit_csv(),
                filename="twitchcheck-audit.csv",
                caption="The admin audit log, oldest first.",
            )
        return
    version = int(match[2]) if match[2] else None
    confirm = match[1] in {"pubw", "rbw"}
    if action == "rollback":
        result = await service.rollback(user_id, update_id, version, confirm_weaker=confirm)
    else:
        result = await service.publish(user_id, update_id, version, confirm_weaker=confirm)
    if isinstance(result, Duplicate):
        return
    text, keyboard = switch_reply(result)
    await send_html(update, text, keyboard)


def register(application: BotApplication) -> None:
    """Admin commands and pack uploads (private chat), and their buttons before the
    check-in's catch-all button handler."""
    private_chat = filters.ChatType.PRIVATE
    for name, callback in (
        ("admin", admin_command),
        ("publish", publish_command),
        ("rollback", rollback_command),
    ):
        application.add_handler(CommandHandler(name, callback, filters=private_chat))
    application.add_handler(
        MessageHandler(private_chat & filters.UpdateType.MESSAGE & PACK_DOCUMENTS, document)
    )
    application.add_handler(CallbackQueryHandler(button, pattern=CALLBACK_PATTERN), group=-1)
