"""`twitchcheck content publish PATH`: the validation and publishing admins reach in the
chat, from the command line (PATH: a content folder, a .zip of one, or one .yaml file that
replaces that file of the live pack)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.app import shipped_library
from bot.config import Settings
from bot.content_files import read_folder
from bot.content_upload import Unpacked
from bot.content_view import diff_report
from bot.db.session import create_engine, create_session_factory
from bot.services import content_admin as svc
from bot.services.kernel import Duplicate


def _read_source(path: Path) -> dict[str, str] | bytes | None:
    """A folder's pack files, a file's bytes, or None when there is neither."""
    if path.is_dir():
        return read_folder(path)
    if path.is_file():
        return path.read_bytes()
    return None


async def publish_path(
    settings: Settings, path: Path, *, confirm_weaker: bool, out: TextIO = sys.stdout
) -> int:
    """Validate, store and publish; exit 0 when the pack is live, 1 when it is not."""
    engine = create_engine(settings.database_url)
    try:
        service = svc.ContentAdminService(
            create_session_factory(engine), shipped_library(), admin_ids=frozenset()
        )
        source = await asyncio.to_thread(_read_source, path)
        if isinstance(source, dict):
            live_id, live_files = await service.live_state()
            unpacked = Unpacked(files=source, replaced=tuple(sorted(source)), kind="folder")
            staged = await service.stage(None, None, unpacked, live_id, live_files, origin="cli")
        elif isinstance(source, bytes):
            staged = await service.upload(None, None, path.name, source, origin="cli")
        else:
            print(f"{path}: no such folder or file", file=out)
            return 2
        match staged:
            case svc.UploadRefusedResult(reason=reason):
                print(f"{path}: not accepted: {reason}", file=out)
                return 1
            case svc.UploadInvalid(problems=problems):
                for problem in problems:
                    print(problem, file=out)
                print(f"{len(problems)} problem(s) found; nothing was published.", file=out)
                return 1
            case Duplicate():
                raise AssertionError("the command line claims no update")
        print(
            f"{path}: valid, stored as version #{staged.version} ({staged.pack_version})", file=out
        )
        for line in diff_report(staged.diff):
            print(line, file=out)
        result = await service.publish(None, None, staged.version, confirm_weaker=confirm_weaker)
        match result:
            case svc.Switched(version=version, previous=previous):
                print(
                    f"published version #{version} (was #{previous}); instances switch within "
                    f"{settings.content_poll_seconds:g} s",
                    file=out,
                )
                return 0
            case svc.NeedsConfirmation(weaker=weaker):
                for item in weaker:
                    print(f"weaker red flags: {item}", file=out)
                print(
                    "not published: the red-flag set is weaker than the live one; run again "
                    "with --confirm-weaker if that is intended",
                    file=out,
                )
                return 1
            case svc.NotSwitched(reason="already_live", version=version):
                print(f"version #{version} is already live", file=out)
                return 0
            case _:
                print(f"not published: {result}", file=out)
                return 1
    finally:
        await engine.dispose()
