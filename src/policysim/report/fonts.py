"""The CJK font that makes Chinese render everywhere: figures (registered with matplotlib at run
time) and HTML (a subset embedded as a WOFF ``@font-face``).

The font is Noto Sans CJK SC Regular (SIL Open Font License 1.1), shipped by the PyPI package
``mplfonts`` (a dependency; only its font file is used: nothing of the user's matplotlib
configuration is changed, and ``mplfonts``' own set-up commands are never called). It is added to
matplotlib's font list with :meth:`matplotlib.font_manager.FontManager.addfont` for this process
only.

An HTML page embeds the glyphs it uses: :func:`font_face_css` subsets the font to the page's
non-ASCII characters with fontTools (a few tens of kB for a briefing), so a browser without any
system CJK font (headless Chromium on a fresh machine) shows Chinese names, not boxes.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import io
import logging
from pathlib import Path
from typing import Final

__all__ = [
    "EMBEDDED_FAMILY",
    "EMBEDDED_RANGE",
    "cjk_font_file",
    "font_face_css",
    "register_cjk_font",
    "subset_font",
]

logger = logging.getLogger(__name__)

#: CSS family name of the embedded face.
EMBEDDED_FAMILY: Final = "policysim-cjk"
#: Code points the embedded face serves: everything but ASCII (see :func:`font_face_css`).
EMBEDDED_RANGE: Final = "U+80-10FFFF"
_PACKAGE: Final = "mplfonts"
_FONT: Final = "fonts/NotoSansCJKsc-Regular.otf"


@functools.cache
def cjk_font_file() -> Path | None:
    """Path of the packaged Noto Sans CJK SC font, or None if ``mplfonts`` is not installed."""
    try:
        path = Path(str(importlib.resources.files(_PACKAGE).joinpath(_FONT)))
    except ModuleNotFoundError:
        logger.warning("package %s not installed: no packaged CJK font", _PACKAGE)
        return None
    if not path.is_file():
        logger.warning("packaged CJK font missing: %s", path)
        return None
    return path


@functools.cache
def register_cjk_font() -> Path | None:
    """Add the packaged CJK font to matplotlib's font manager (this process only, once).

    Returns
    -------
    pathlib.Path or None
        The font file registered, or None when the package is missing.
    """
    path = cjk_font_file()
    if path is None:
        return None
    from matplotlib.font_manager import fontManager

    if not any(entry.fname == str(path) for entry in fontManager.ttflist):
        fontManager.addfont(str(path))
        logger.debug("registered CJK font %s with matplotlib", path)
    return path


def subset_font(text: str) -> bytes | None:
    """The packaged CJK font reduced to the glyphs of ``text``, as WOFF bytes (None without the
    font or when ``text`` needs no glyph beyond ASCII)."""
    path = cjk_font_file()
    chars = sorted({ch for ch in text if ord(ch) > 0x7F and not ch.isspace()})
    if path is None or not chars:
        return None
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"  # zlib: no extra dependency (WOFF2 would need brotli)
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(str(path), lazy=True, recalcTimestamp=False)  # same bytes every time
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(chars) + "0123456789")
        subsetter.subset(font)
        font.flavor = "woff"
        sink = io.BytesIO()
        font.save(sink)
    finally:
        font.close()
    return sink.getvalue()


def font_face_css(text: str) -> str:
    """An ``@font-face`` rule embedding the glyphs of ``text`` (base64 WOFF), or ``""``.

    The face covers the non-ASCII code points only (``unicode-range``), so that pages can name
    it as their *first* family: ASCII text keeps the Latin fonts after it, and Chinese text is
    drawn from the embedded face directly. As a later (fallback) family, Chromium drew some
    runs of a page as boxes without system CJK fonts (a table cell's "亿元" while the same
    words in the next row were right)."""
    data = subset_font(text)
    if data is None:
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; font-style: normal; '
        f"font-weight: 400; unicode-range: {EMBEDDED_RANGE}; "
        f"src: url(data:font/woff;base64,{encoded}) format('woff'); }}\n"
    )
