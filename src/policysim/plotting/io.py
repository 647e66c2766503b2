"""Writing figures to disk atomically."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from matplotlib.figure import Figure

from policysim.report._atomic import atomic_output

__all__ = ["VECTOR_FORMATS", "save_figure"]

logger = logging.getLogger(__name__)


#: Vector formats a publication figure is also written in (beside the PNG).
VECTOR_FORMATS = ("svg", "pdf")


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    dpi: int = 150,
    vector: tuple[str, ...] = (),
) -> Path:
    """Write ``fig`` as a PNG file atomically.

    The image is written to a temporary file in the target directory, flushed to disk and
    moved over ``path`` with :func:`os.replace`; the file appears whole or not at all, and no
    temporary file stays behind when drawing fails.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or os.PathLike
        Destination ending in ``.png``; missing parent directories are created.
    dpi : int, default 150
        Resolution in dots per inch.
    vector : tuple of str, default ()
        Also write these formats beside the PNG (same stem; e.g. :data:`VECTOR_FORMATS`:
        SVG and PDF for publication), each atomically. Fonts are embedded as subsets.

    Returns
    -------
    pathlib.Path
        The destination path.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.png`` or ``dpi`` is not positive.
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"save_figure: {target}: expected a path ending in .png")
    if dpi <= 0:
        raise ValueError(f"save_figure: dpi={dpi!r} (expected a positive integer)")
    for fmt in vector:
        if fmt not in VECTOR_FORMATS:
            raise ValueError(f"save_figure: vector format {fmt!r} (expected svg or pdf)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as stream:
        fig.savefig(stream, format="png", dpi=dpi, metadata={"Software": None})
    for fmt in vector:
        meta: dict[str, str | None] = {"Creator": None} if fmt == "pdf" else {"Date": None}
        with atomic_output(target.with_suffix(f".{fmt}")) as stream:
            fig.savefig(stream, format=fmt, metadata=meta)
    logger.debug("figure written to %s", target)
    return target
