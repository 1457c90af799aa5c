"""`make html`: a lesson built as a page to read, with its plots and without its answers."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser
from importlib.metadata import version

import nbformat
import pytest

from grading.course import is_solution
from tests.conftest import HTML_LESSON, ROOT, needs_mnist

LESSON = HTML_LESSON  # its tests share the lesson's one execution (tests/conftest.py)


class _Page(HTMLParser):
    """The text a reader sees (code highlighting spans joined back) and every <img> source."""

    def __init__(self, markup: str):
        super().__init__()
        self.parts, self.images = [], []
        self.feed(markup)
        self.text = "".join(self.parts)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_data(self, data):
        self.parts.append(data)


def _marked(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run(
        [sys.executable, "-m", "tools.build_html", LESSON, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@needs_mnist
@pytest.mark.slow
def test_page_has_the_run_plots_embedded(built):
    page = _Page((built / f"{LESSON}.html").read_text(encoding="utf-8"))
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    plots = [src for src in page.images if src != badge]
    assert plots and all(src.startswith("data:image/png;base64,") for src in plots), (
        "every image but the Colab badge is an embedded PNG"
    )
    for src in plots:
        png = base64.b64decode(src.split(",", 1)[1])
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    solution = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    plotting = [
        c for c in solution.cells if c.cell_type == "code" and "plt." in c.source and not is_solution(c)
    ]
    assert len(plots) >= len(plotting) > 0
    # the widget: its first plot, after a note with its controls' values (and no progress bars)
    notes = re.findall(r"Interactive in JupyterLab or Colab; drawn here for (.+?)\.\n", page.text)
    assert notes and all("=" in note for note in notes), notes
    # the kernel's own output: the setup cell's versions line
    versions = re.search(r"torch (\S+) · course_utils \S+ · device \w+", page.text)
    assert versions and versions.group(1).startswith(version("torch"))


@needs_mnist
@pytest.mark.slow
def test_page_shows_the_exercises_not_their_answers(built):
    text = _Page((built / f"{LESSON}.html").read_text(encoding="utf-8")).text
    solution = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    student = "\n".join(
        c.source for c in nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4).cells
    )
    answers, hidden = [], []
    for cell in solution.cells:
        answers += _marked(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        hidden += _marked(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    answers = [line for line in answers if line not in student]
    hidden = [line for line in hidden if line not in student]
    assert answers and hidden, "the lesson has an exercise and hidden tests to hide"
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert [line for line in answers + hidden if line in text] == []
    assert "raise NotImplementedError()" in text  # the student's stub is shown instead
    # no check output either: a ✅ line can name the answer
    assert text.count("✅") == student.count("✅")


@needs_mnist
@pytest.mark.slow
def test_index_links_the_page(built):
    markup = (built / "index.html").read_text(encoding="utf-8")
    assert f'href="{LESSON}.html"' in markup
    cells = nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4).cells
    heading = next(
        line
        for c in cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("# ")
    )
    assert heading[2:].strip() in _Page(markup).text
