"""What the Chainlit app installs into its app root when it loads: the custom elements and wording.

Chainlit serves custom elements from `$CHAINLIT_APP_ROOT/public/elements/NAME.jsx` and reads its UI
wording from `$CHAINLIT_APP_ROOT/.chainlit/translations/*.json` (it writes both folders on first start).
The elements are checked in under chat_ui/public/ and copied there when they differ. The translations get
two changes: a finished step is titled by its own name ("Cycle 23 · ..."), without Chainlit's "Used "
prefix ("Using " while it runs); and the footer under the input ("LLMs can make mistakes") appears only
when some trader runs in LLM mode, worded for this app. The page style (public/floor.css) lets the browser skip
the cycle steps out of view, so a long run's chat stays cheap to render.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent / "public"
STEP_STATUS = {"used": "", "using": ""}
LLM_WATERMARK = "Traders in LLM mode can make mistakes; their orders still pass the risk checks."


def install_public(public_dir: Path) -> list[Path]:
    """Copy chat_ui/public/** into Chainlit's public folder (only files that differ); returns those copied."""
    copied = []
    for src in HERE.rglob("*"):
        if not src.is_file():
            continue
        dst = Path(public_dir) / src.relative_to(HERE)
        if dst.exists() and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append(dst)
    return copied


def patch_translations(translation_dir: Path, *, llm: bool = False) -> list[Path]:
    """Drop the "Used"/"Using" step prefix in every translation file, and set the footer (empty in rule
    mode); returns the files changed."""
    changed = []
    watermark = LLM_WATERMARK if llm else ""
    for path in sorted(Path(translation_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            status = data["chat"]["messages"]["status"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if all(status.get(k) == v for k, v in STEP_STATUS.items()) and data["chat"].get("watermark") == watermark:
            continue
        status.update(STEP_STATUS)
        data["chat"]["watermark"] = watermark
        path.write_text(json.dumps(data, indent=4, ensure_ascii=False), encoding="utf-8")
        changed.append(path)
    return changed


def install(*, llm: bool = False) -> None:
    """Called once by chat_ui/app.py when Chainlit loads it (chainlit.config has made its folders)."""
    from chainlit.config import config, config_translation_dir, public_dir

    install_public(Path(public_dir))
    patch_translations(Path(config_translation_dir), llm=llm)
    config.ui.name = "Trading Floor"
    config.ui.custom_css = "/public/floor.css"
