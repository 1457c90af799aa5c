"""Progress bars: in a notebook, one text output updated in place, never a widget.

A tqdm widget (tqdm.auto) is saved as a reference to a widget model that is gone when the notebook
is reopened ("Error displaying widget: model not found"); a text output updated through its
display id keeps its last line in the saved notebook. The kernel is simulated here;
tests/test_browser.py checks a saved lesson in JupyterLab.
"""

from __future__ import annotations

import torch

from course_utils import progress, training
from course_utils.models import SoftmaxRegression


def _displayed(monkeypatch) -> list[tuple[str, dict]]:
    """Pretend to be a notebook kernel; record what is displayed and updated."""
    import IPython.display

    shown: list[tuple[str, dict]] = []

    class Handle:
        def update(self, bundle, raw=False):
            shown.append(("update", bundle))

    def display(bundle, raw=False, display_id=False):
        shown.append(("display", bundle))
        return Handle()

    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return shown


def test_a_notebook_bar_is_one_text_output_that_ends_full(monkeypatch):
    shown = _displayed(monkeypatch)
    assert list(progress.progress(range(5), desc="runs")) == [0, 1, 2, 3, 4]
    assert [kind for kind, _ in shown].count("display") == 1
    assert all(set(bundle) == {"text/plain"} for _, bundle in shown)  # text only: no widget
    last = shown[-1][1]["text/plain"]
    assert last.startswith("runs: 100%") and "5/5" in last


def test_train_shows_its_bar_and_keeps_it(monkeypatch):
    shown = _displayed(monkeypatch)
    torch.manual_seed(0)
    X, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    model = SoftmaxRegression()
    training.train(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), steps=7, desc="B=64")
    assert shown and shown[-1][1]["text/plain"].startswith("B=64: 100%")
    shown.clear()
    training.train(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), steps=3, progress=False)
    assert shown == []


def test_outside_a_notebook_it_is_tqdms_text_bar(capsys):
    assert sum(progress.progress(range(3), desc="x")) == 3
    assert "x: 100%" in capsys.readouterr().err
