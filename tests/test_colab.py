"""Colab readiness, checked statically on every notebook (student and instructor copies).

On Colab a learner clicks the badge, runs the setup cell, and gets the course helpers
installed next to Colab's own torch, torchvision and numpy (never reinstalled: a CUDA
build replaced by a CPU wheel, or a numpy downgrade under a loaded torch, breaks the
runtime). Everything else must already be on Colab: core ipywidgets with
`%matplotlib inline` (Colab has no custom widget manager by default), and the
packages course_utils depends on. The GPU is used through get_device() only.
"""

from __future__ import annotations

import ast
import functools
import re
import sys

import matplotlib
import tomllib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

from grading.course import is_locked  # noqa: E402
from tests.conftest import ROOT, lesson_names, needs_mnist  # noqa: E402

NOTEBOOKS = [f"{folder}/{name}" for folder in ("notebooks", "solutions") for name in lesson_names()]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COURSE = PYPROJECT["tool"]["course"]

# Preinstalled on every Colab runtime (import names); the setup cell installs nothing else.
COLAB_HAS = {"torch", "torchvision", "numpy", "scipy", "matplotlib", "ipywidgets", "IPython", "tqdm"}
NEVER_INSTALL = {"torch", "torchvision", "numpy"}
CORE_WIDGET_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}


@functools.cache
def _nb(path: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / f"{path}.ipynb", as_version=4)


def _tree(source: str) -> ast.Module:
    """Cell source as Python: IPython turns `%magic` and `!cmd` into get_ipython() calls."""
    return ast.parse(TransformerManager().transform_cell(source))


@functools.cache
def _code_cells(path: str) -> list[tuple[str, ast.Module]]:
    return [(c.get("id", "?"), _tree(c.source)) for c in _nb(path).cells if c.cell_type == "code"]


@functools.cache
def _course_utils() -> list[tuple[str, ast.Module]]:
    return [(p.name, ast.parse(p.read_text())) for p in sorted((ROOT / "course_utils").rglob("*.py"))]


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _magics(tree: ast.Module) -> list[tuple[str, str]]:
    """(name, argument) of every line magic, and ("!", command) of every shell escape."""
    found = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            args = [a.value for a in call.args if isinstance(a, ast.Constant)]
            if call.func.attr in ("run_line_magic", "run_cell_magic") and len(args) >= 2:
                found.append((args[0], args[1]))
            elif call.func.attr in ("system", "getoutput") and args:
                found.append(("!", args[0]))
    return found


def _installs(tree: ast.Module) -> list[list[str]]:
    """Every package install a cell makes: `%pip`, `!pip`, or pip run as a subprocess."""
    commands = [
        f"{name} {arg}".split()
        for name, arg in _magics(tree)
        if name in ("pip", "conda", "mamba") or (name == "!" and re.search(r"\b(pip|conda)\b", arg))
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple):
            words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if "pip" in words and "install" in words:
                commands.append(words)
    return commands


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_badge_first_then_setup_cell(path):
    folder, name = path.split("/")
    cells = _nb(path).cells
    repo = COURSE["repository"].removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{repo}/blob/{COURSE['branch']}/notebooks/{name}.ipynb"
    badge = re.fullmatch(
        r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
        r"\((\S+)\)",
        cells[0].source.strip(),
    )
    assert cells[0].cell_type == "markdown" and badge, "the first cell must be the Open in Colab badge"
    assert badge.group(1) == url
    setup = cells[1]
    assert setup.cell_type == "code" and setup.get("id") == "setup", "the setup cell must come second"
    assert is_locked(setup), "students must not edit the setup cell"
    assert ("matplotlib", "inline") in _magics(_tree(setup.source))
    assert "from course_utils.models import get_device" in setup.source


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_setup_cell_installs_only_course_utils_and_only_when_missing(path):
    tree = _tree(_nb(path).cells[1].source)
    installs = _installs(tree)
    assert len(installs) == 1, installs
    pip = installs[0]
    assert "--no-deps" in pip, "without --no-deps pip would also install the pinned torch"
    assert f"git+{COURSE['repository']}@{COURSE['branch']}" in pip
    named = {re.split(r"[<>=!~\[ ;@]", w)[0].lower() for w in pip if not w.startswith(("-", "git+"))}
    assert not named & NEVER_INSTALL, f"the setup cell names {named & NEVER_INSTALL}"
    # pip runs only when course_utils is not importable (locally it is installed already).
    guard = next(n for n in ast.walk(tree) if isinstance(n, ast.If))
    assert "course_utils" in _strings(guard.test) and "find_spec" in ast.unparse(guard.test)
    assert pip == next(iter(_installs(ast.Module(body=guard.body, type_ignores=[]))))


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_no_other_cell_installs_anything(path):
    for cell_id, tree in _code_cells(path)[1:]:
        assert not _installs(tree), f"{cell_id} installs packages: only the setup cell may"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_inline_plots_and_core_widgets_only(path):
    nb = _nb(path)
    assert "enable_custom_widget_manager" not in "".join(c.source for c in nb.cells)
    for cell_id, tree in _code_cells(path):
        for name, arg in _magics(tree):
            if name == "matplotlib":
                assert arg == "inline", f"{cell_id}: %matplotlib {arg} needs a widget manager Colab lacks"
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("matplotlib.use"):
                pytest.fail(f"{cell_id} switches the matplotlib backend")
        foreign = _imported(tree) - COLAB_HAS - set(sys.stdlib_module_names) - {"course_utils"}
        assert not foreign, f"{cell_id} imports {foreign}: not on Colab (or not a core widget)"


def test_course_utils_needs_only_what_colab_has():
    """The setup cell installs course_utils with --no-deps: its dependencies must be on Colab."""
    for name, tree in _course_utils():
        foreign = _imported(tree) - COLAB_HAS - set(sys.stdlib_module_names) - {"course_utils"}
        assert not foreign, f"course_utils/{name} imports {foreign}"
        assert "enable_custom_widget_manager" not in ast.unparse(tree)
    declared = {re.split(r"[<>=!~\[ ;]", d)[0] for d in PYPROJECT["project"]["dependencies"]}
    assert declared <= {n.lower() for n in COLAB_HAS}, f"not preinstalled on Colab: {declared - COLAB_HAS}"


def test_widgets_are_core_ipywidgets():
    import ipywidgets
    import matplotlib.pyplot as plt

    from course_utils import widgets

    def draw(lr, n, kind):
        return plt.figure()

    box = widgets.interactive_figure(
        draw,
        lr=widgets.log_slider("lr", 0.1, -3, 0),
        n=widgets.slider("n", 3, 1, 10),
        kind=widgets.dropdown("kind", ["a", "b"]),
    )
    plt.close("all")
    tree, seen = [box], []
    while tree:
        w = tree.pop()
        seen.append(w)
        tree.extend(getattr(w, "children", ()))
    assert len(seen) == 5  # the box, three controls, the output
    for w in seen:
        assert isinstance(w, ipywidgets.Widget)
        assert w._model_module in CORE_WIDGET_MODULES and w._view_module in CORE_WIDGET_MODULES, w


@pytest.mark.parametrize("path", [*NOTEBOOKS, "course_utils"])
def test_device_comes_from_get_device(path):
    """No hard-coded "cuda" and no .cuda(): get_device() is the one choice, so CPU and GPU share code."""
    sources = _course_utils() if path == "course_utils" else _code_cells(path)
    for where, tree in sources:
        parent = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        function = {
            id(n): f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "cuda":
                pytest.fail(f"{where}: {ast.unparse(node)} (use .to(get_device()))")
            if isinstance(node, ast.Constant) and str(node.value).startswith("cuda"):
                if isinstance(parent[id(node)], ast.Compare):
                    continue  # `device.type == "cuda"` asks which device it is; it does not choose
                assert (where, function.get(id(node))) == ("models.py", "get_device"), (
                    f"{where}: {ast.unparse(parent[id(node)])}"
                )


def test_get_device_picks_the_gpu_when_there_is_one(monkeypatch):
    from course_utils.models import get_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


@needs_mnist
def test_helpers_put_data_and_batches_on_the_device():
    """load_mnist(device=) and the training batches follow the device asked for ("meta": no GPU needed)."""
    from course_utils.data import load_mnist
    from course_utils.training import epoch_batches

    X, y = load_mnist("test", subset=64, device="meta")
    assert X.device.type == y.device.type == "meta" and X.shape == (64, 784)
    batch = next(epoch_batches(64, 16, torch.Generator().manual_seed(0), X.device))
    assert batch.device.type == "meta" and batch.shape == (16,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here: runs where CUDA is available")
def test_training_on_the_gpu_gives_the_cpu_result():
    from course_utils.models import MLP, get_device, seed_everything
    from course_utils.training import train

    def run(device):
        seed_everything(0)
        X, y = torch.randn(512, 784), torch.randint(0, 10, (512,))
        net = MLP(hidden=(32,)).to(device)
        hist = train(
            net,
            X.to(device),
            y.to(device),
            torch.optim.SGD(net.parameters(), lr=0.1),
            steps=50,
            batch_size=64,
            generator=torch.Generator().manual_seed(0),
            progress=False,
        )
        return torch.tensor(hist.loss)

    assert get_device().type == "cuda"
    torch.testing.assert_close(run(get_device()), run("cpu"), rtol=1e-3, atol=1e-4)
