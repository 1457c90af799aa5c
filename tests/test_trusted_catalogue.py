"""Every known-wrong version of every exercise keeps its diagnosis through the grading boundary.

The checkers run as grading runs them (grading/trusted.py): the student's function is a Remote,
and every call goes through the encoding both ways (course_utils/checks/remote.py). Here the
"kernel" is this process (remote._serve on the request's text), so the whole catalogue takes
seconds; tests/test_round_trip.py runs each lesson's answer through a real sandboxed kernel.
"""

from __future__ import annotations

import nbformat
import pytest

import course_utils.checks as checks
from course_utils.checks import remote
from grading import catalogue
from grading.course import ROOT, lessons
from grading.trusted import checker_calls, forbidden_use


def _remote(name: str, fn, code: str) -> remote.Remote:
    def transport(request: str) -> str:
        return remote._serve(request, namespace={name: fn})

    return remote.Remote(transport, name=name, precheck=lambda forbid: forbidden_use([code], forbid))


def _test_source(lesson: str, exercise: str) -> str:
    cell_id = catalogue.test_cell_of(lesson, exercise)
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    return next(c.source for c in nb.cells if c.id == cell_id)


def _visible_call(lesson: str, exercise: str):
    return checker_calls(_test_source(lesson, exercise))[0]


CASES = [
    pytest.param(m, id=f"{m.lesson[:2]}-{m.exercise}-{m.label}")
    for lesson in lessons()
    for m in catalogue.mistakes(lesson)
    if _visible_call(lesson, m.exercise).checker != "check_challenge"  # MNIST training: the round trip
]


@pytest.mark.parametrize("mistake", CASES)
def test_a_known_mistake_is_named_through_the_boundary(mistake, capsys):
    call = _visible_call(mistake.lesson, mistake.exercise)
    fn = _remote(mistake.exercise, mistake.function(), mistake.source)
    with pytest.raises((AssertionError, NotImplementedError)) as err:
        getattr(checks, call.checker)(fn, *call.args, **call.kwargs)
    if mistake.words:
        assert mistake.words in str(err.value)
    assert "❌" in capsys.readouterr().out


@pytest.mark.parametrize("lesson", lessons())
def test_every_solution_passes_through_the_boundary(lesson, capsys):
    code = catalogue.solution_code(lesson)
    for exercise, source in code.items():
        for cell in [_test_source(lesson, exercise)]:
            for call in checker_calls(cell):
                if call.checker == "check_challenge":
                    continue
                fn = _remote(call.function, catalogue.solution_function(lesson, call.function), source)
                getattr(checks, call.checker)(fn, *call.args, **call.kwargs)
    assert "❌" not in capsys.readouterr().out


def test_an_objective_the_call_changes_stays_the_checkers():
    """An object the checker passes (an objective) comes back as the checker made it, whatever the
    student's copy went through: a zeroed or rescaled objective must not become the reference its
    answer is judged by. What a call is meant to change still comes back: a tensor argument
    updated in place, and the points J was evaluated at (random search's probe)."""
    import torch

    from course_utils.checks.optimizers import Quadratic
    from course_utils.checks.search import _Probe

    def vandal(J, w, probe):
        J.A.zero_()  # in place
        J.b = J.b * 0  # replaced
        probe.target.fill_(7.0)
        probe.J(w + 1)  # a real evaluation: it must come back
        w.add_(1.0)  # an in-place update of an argument: it must come back

    J = Quadratic.random(3, torch.Generator().manual_seed(0))
    A, b = J.A.clone(), J.b.clone()
    probe = _Probe("vandal", vandal, torch.zeros(3))
    w = torch.zeros(3)
    _remote("vandal", vandal, "")(J, w, probe)
    assert torch.equal(J.A, A) and torch.equal(J.b, b)
    assert torch.equal(probe.target, torch.zeros(3))
    assert len(probe.calls) == 1 and torch.equal(probe.calls[0], torch.ones(3))
    assert torch.equal(w, torch.ones(3))
