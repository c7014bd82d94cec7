"""The plots' shared figure, styles and the one function that writes a figure to a file."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from churn.evaluation.metrics import _MODEL

log = logging.getLogger(__name__)

_PNG_DPI = 110
_PNG_MODE = 0o644


def _line_style(name: str, position: int) -> dict[str, Any]:
    if name == _MODEL:
        return {"color": f"C{position}", "linewidth": 2.6, "zorder": 4}
    return {"color": f"C{position}", "linewidth": 1.4, "zorder": 3}


_REFERENCE_STYLE: dict[str, Any] = {"color": "grey", "linestyle": "--", "linewidth": 1.0}


def _new_axes(title: str, *, figsize: tuple[float, float] = (6.4, 5.2)) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG (dpi 110) atomically, creating the parent folder.

    The image goes to a temporary ``.png`` sibling first, then replaces ``path`` in one rename,
    so a reader never sees a half-written file; on failure the temporary file is removed.

    Args:
        fig: the figure to write.
        path: the destination; it must end in ``.png``.

    Returns:
        The path written.

    Raises:
        ValueError: when ``path`` does not end in ``.png``.
    """
    final = Path(path)
    if final.suffix.lower() != ".png":
        raise ValueError(f"save_figure: path must end in .png; got {str(final)!r}")
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".png", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fig.savefig(tmp, dpi=_PNG_DPI, format="png")
        os.chmod(tmp, _PNG_MODE)  # mkstemp makes it 0600; a figure is a report to share
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.debug("wrote figure %s", final)
    return final
