"""Progress bars for the lessons' long cells, and for `course_utils.training.train`.

In a notebook a bar is one line of text that is updated in place (through a display id), not
an ipywidget: a saved notebook keeps the bar's last line, so reopening it shows how the run went,
where tqdm's widget (tqdm.auto) would come back as "Error displaying widget: model not found".
Elsewhere (a script, pytest) it is tqdm's text bar on stderr.
"""

from __future__ import annotations

import io
import sys

from tqdm.std import tqdm as _text_tqdm

__all__ = ["progress"]


class _NotebookBar(_text_tqdm):
    """tqdm's text bar as one notebook output that is updated in place (a display id).

    Not an ipywidget: a saved notebook keeps the bar's last text, so reopening it shows how
    the run went, where a closed widget shows "Error displaying widget: model not found".
    """

    def __init__(self, *args, **kwargs):
        self._handle = None
        super().__init__(*args, file=io.StringIO(), **kwargs)

    def display(self, msg=None, pos=None):
        from IPython.display import display

        bundle = {"text/plain": self.__str__() if msg is None else msg}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        return True


def _in_notebook() -> bool:
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    return getattr(shell, "kernel", None) is not None


def progress(iterable=None, *, total: int | None = None, desc: str | None = None, disable: bool = False):
    """A progress bar over `iterable` (or updated by hand, `bar.update(1)`, up to `total`).

    In a notebook: one line of text updated in place, kept when the loop ends and when the
    notebook is saved and reopened. Elsewhere: tqdm's bar on stderr. Redrawn at most twice a second.
    """
    make = _NotebookBar if _in_notebook() else _text_tqdm
    return make(iterable, total=total, desc=desc, disable=disable, leave=True, mininterval=0.5, ascii=False)
