"""Where the installed project keeps its data folders, independent of the working directory."""

from __future__ import annotations

from pathlib import Path

import content
import migrations

CONTENT_DIR = Path(content.__file__).resolve().parent
MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
