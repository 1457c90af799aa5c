"""The verdict is decided in the grading process: attacks from inside the kernel move no grade.

One plain kernel (no sandbox: that is test_sandbox.py's concern) holds the student's code; the
test cells of the fixture assignment are decided by grading.trusted.verdict, as GuardedExecute
does while autograding. Each attack is a blank or wrong answer dressed up to pass a check run in
the kernel itself (the issue-16 list): every one must earn an error output, i.e. 0 points.
"""

from __future__ import annotations

import os
import textwrap

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from grading.course import SOLUTIONS, is_solution, is_test, lessons
from grading.trusted import KernelTransport, checker_calls, forbidden_use, verdict
from tests.grading_cases import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "00_fixture.ipynb"


def _test_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if is_test(c)]


@pytest.mark.parametrize(
    "path", [FIXTURE, *(SOLUTIONS / f"{n}.ipynb" for n in lessons())], ids=lambda p: p.stem
)
def test_every_test_cell_is_checker_calls_the_grader_can_run(path):
    import course_utils.checks as checks

    nb = nbformat.read(path, as_version=4)
    defined = "\n".join(c.source for c in nb.cells if is_solution(c))
    cells = _test_cells(path)
    assert cells
    for source in cells:
        calls = checker_calls(source)
        assert calls, source
        for call in calls:
            assert callable(getattr(checks, call.checker, None)), call
            assert f"def {call.function}(" in defined or f"{call.function} =" in defined, call


@pytest.fixture(scope="module")
def kernel():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    kc.execute_interactive("import torch\ntorch.set_num_threads(1)", timeout=120)
    transport = KernelTransport(kc, km, timeout=120)
    yield kc, transport
    transport.close()
    kc.stop_channels()
    km.shutdown_kernel(now=True)


SOFTMAX_TEST, CROSS_ENTROPY_TEST = _test_cells(FIXTURE)

RIGHT = """
def softmax(z):
    z = z - z.max(dim=1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=1, keepdim=True)
"""


def run(kernel, code: str, test: str = SOFTMAX_TEST, student_code: list[str] | None = None):
    kc, transport = kernel
    reply = kc.execute_interactive(textwrap.dedent(code), timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    outputs = verdict(test, transport, [textwrap.dedent(code)] if student_code is None else student_code)
    errors = [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    return errors, printed


def test_a_right_answer_passes_every_call_of_the_test_cell(kernel):
    errors, printed = run(kernel, RIGHT)
    assert not errors, errors
    assert printed.count("✅") == 2, printed  # the visible call and the hidden one


def test_a_blank_answer_gets_the_reminder_and_no_points(kernel):
    errors, printed = run(kernel, "def softmax(z):\n    raise NotImplementedError()\n")
    assert [e.ename for e in errors] == ["NotImplementedError"]
    assert "⏳" in printed


def test_a_wrong_answer_gets_its_diagnosis(kernel):
    errors, printed = run(kernel, "def softmax(z):\n    return torch.exp(z) / torch.exp(z).sum()\n")
    assert [e.ename for e in errors] == ["CheckFailure"], printed
    assert "❌" in printed


# Blank answers (zeros) dressed up to pass a check that runs in the kernel. Each would have
# earned full marks when the checker shared the student's interpreter.
ATTACKS = {
    "a tensor subclass that answers 'close' for itself": """
        class Liar(torch.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if getattr(func, "__name__", "") in ("allclose", "isclose", "equal", "eq"):
                    return True
                return super().__torch_function__(func, types, args, kwargs or {})

        def softmax(z):
            return torch.zeros_like(z).as_subclass(Liar)
        """,
    "patching the comparisons while the checker calls it": """
        import course_utils.checks.reporting as _r

        def softmax(z):
            torch.allclose = lambda *a, **k: True
            _r._close = lambda *a, **k: True
            _r._all_close = lambda *a, **k: True
            return torch.zeros_like(z)
        """,
    "a trace function rewriting the comparator's locals": """
        import sys

        def _tracer(frame, event, arg):
            if frame.f_code.co_name in ("_close", "_all_close"):
                frame.f_locals["tol"] = 1e9
            return _tracer

        def softmax(z):
            sys.settrace(_tracer)
            return torch.zeros_like(z)
        """,
    "a function whose code claims to live in course_utils": """
        import course_utils.checks as _c

        def _blank(z):
            return torch.zeros_like(z)

        softmax = type(_blank)(
            _blank.__code__.replace(co_filename=_c.__file__), globals(), "softmax"
        )
        """,
    "a meta_path finder that serves its own checks module": """
        import sys, types

        class _Finder:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("course_utils.checks"):
                    import importlib.machinery
                    return importlib.machinery.ModuleSpec(name, self)
            def create_module(self, spec):
                m = types.ModuleType(spec.name)
                m.serve = lambda text: print("✅ softmax: passed")
                m.check_softmax = lambda *a, **k: print("✅ softmax: passed")
                return m
            def exec_module(self, m):
                pass

        for _k in [k for k in sys.modules if k.startswith("course_utils.checks")]:
            del sys.modules[_k]
        sys.meta_path.insert(0, _Finder())

        def softmax(z):
            return torch.zeros_like(z)
        """,
}


RESTORE = """
import sys
sys.settrace(None)
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Finder"]
for _k in [k for k in sys.modules if k.startswith("course_utils.checks")]:
    del sys.modules[_k]
"""


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_attack_from_the_kernel_earns_nothing(kernel, attack):
    try:
        errors, printed = run(kernel, ATTACKS[attack])
    finally:
        kernel[0].execute_interactive(RESTORE, timeout=60)
    assert errors, f"{attack}: passed ({printed})"
    errors, printed = run(kernel, RIGHT)  # the kernel still answers, and a right answer still passes
    assert not errors, printed


def test_an_input_transformer_that_rewrites_the_graders_call_earns_nothing(kernel):
    code = """
        def _strip(lines):
            return ["None\\n"] if any("serve(" in line for line in lines) else lines

        get_ipython().input_transformers_cleanup.append(_strip)

        def softmax(z):
            return torch.zeros_like(z)
        """
    try:
        errors, printed = run(kernel, code)
        assert errors, printed
    finally:
        kernel[0].execute_interactive("get_ipython().input_transformers_cleanup.remove(_strip)", timeout=30)


@pytest.mark.parametrize(
    "code",
    [
        "_sm = torch.softmax\n\ndef softmax(z):\n    return _sm(z, dim=1)\n",
        "from torch.nn.functional import softmax as _sm\n\ndef softmax(z):\n    return _sm(z, dim=1)\n",
        "_sm = getattr(torch, 'soft' + 'max')\n\ndef softmax(z):\n    return _sm(z, dim=1)\n",
        "_sm = vars(torch)['soft' + 'max']\n\ndef softmax(z):\n    return _sm(z, dim=1)\n",
    ],
    ids=["alias", "import-as", "getattr", "vars"],
)
def test_torchs_own_version_reached_around_the_kernels_guard_earns_nothing(kernel, code):
    errors, printed = run(kernel, code)
    assert [e.ename for e in errors] == ["CheckFailure"], printed
    assert "torch's own" in printed


# torch's own softmax reached by routes a scan of names cannot follow (a string, a module that calls
# it): the kernel's watch sees its aten operator run, with the grader's scan switched off.
AROUND_THE_SCAN = {
    "getattr_static": "import inspect\n_sm = inspect.getattr_static(torch, 'soft' + 'max')\n"
    "def softmax(z):\n    return _sm(z, dim=1)\n",
    "pydoc.locate": "import pydoc\n_sm = pydoc.locate('torch.nn.functional.' + 'soft' + 'max')\n"
    "def softmax(z):\n    return _sm(z, dim=1)\n",
    "torch.distributions": "def softmax(z):\n    return torch.distributions.utils.logits_to_probs(z)\n",
    "the error caught": "import inspect\n_sm = inspect.getattr_static(torch.Tensor, 'soft' + 'max')\n"
    "def softmax(z):\n    try:\n        return torch.softmax(z, 1)\n    except Exception:\n"
    "        return _sm(z, 1)\n",
}


@pytest.mark.parametrize("code", AROUND_THE_SCAN.values(), ids=AROUND_THE_SCAN.keys())
def test_the_kernels_watch_sees_torchs_version_however_it_was_reached(kernel, code):
    errors, printed = run(kernel, code, student_code=[])
    assert [e.ename for e in errors] == ["CheckFailure"], printed
    assert "torch's own" in printed


def test_the_watch_sees_an_optimizers_step_and_functional_form_through_any_alias():
    import importlib
    import inspect

    import torch

    from course_utils.checks.calling import _forbid, _Forbidden
    from course_utils.checks.optimizers import _SGD_FORBID

    w = torch.ones(3, requires_grad=True)
    w.grad = torch.ones(3)
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    step = inspect.getattr_static(torch.optim.SGD, "step")  # taken before the check
    functional = inspect.getattr_static(importlib.import_module("torch.optim.sgd"), "sgd")
    calls = {
        "step": lambda: step(optimizer),
        "functional": lambda: functional([w.detach()], [w.grad], [None], weight_decay=0.0, momentum=0.9,
                                         lr=0.1, dampening=0.0, nesterov=False, maximize=False),
    }  # fmt: skip
    for label, call in calls.items():
        with pytest.raises(_Forbidden, match="SGD"), _forbid(_SGD_FORBID):
            call()
        assert torch.optim.SGD.step is step, label  # put back
    with _forbid(_SGD_FORBID):  # the student's own arithmetic passes
        w.data.add_(w.grad, alpha=-0.1)


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.modules['course_utils.checks.calling']._forbid = None\n",
        "import course_utils.checks.calling as c\nc._Watch = None\n",
        "from torch.utils import _python_dispatch\n",
        "import sys\nsys.setprofile(None)\n",
        "import threading\n",
        "from concurrent.futures import ThreadPoolExecutor\n",
        "import os\nos.system('python -c 1')\n",
        "import comm\ncomm.get_comm_manager().register_target('course-grader', print)\n",
        "from course_utils.checks import remote\n",
    ],
    ids=[
        "sys.modules",
        "private name",
        "torch internals",
        "setprofile",
        "threading",
        "pool",
        "process",
        "comm",
        "checker internals",
    ],
)
def test_the_scan_refuses_ways_around_the_kernels_watch(code):
    assert forbidden_use([code], ["torch.softmax"]), code


def test_the_scan_looks_only_at_names_not_at_words():
    code = [
        "def softmax(z):\n"
        '    """Row-wise softmax, as torch.softmax would."""\n'
        "    return z.exp() / z.exp().sum(1, keepdim=True)\n"
    ]
    assert forbidden_use(code, ["torch.softmax", "torch.nn.functional.softmax"]) is None
    assert forbidden_use(["y = F.log_softmax(x, 1)"], ["torch.nn.functional.softmax"])


def test_only_plain_data_crosses():
    """A reply is read as plain data (remote._load): a pickled object with code in it is refused, not
    run, and so is a header that asks for more tensor than it sent, or a node of no known kind."""
    import base64
    import io

    import torch

    from course_utils.checks.remote import GraderError, Remote

    class Evil:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('/tmp/course-pwned').touch()",))

    def transport(request: str) -> str:
        buffer = io.BytesIO()
        torch.save({"result": Evil()}, buffer)
        return base64.b64encode(buffer.getvalue()).decode()

    with pytest.raises(GraderError, match="not plain data"):
        Remote(transport, name="softmax")(torch.zeros(2, 3))
    assert not __import__("pathlib").Path("/tmp/course-pwned").exists()

    import json
    import struct

    def frame(tree, data: bytes = b"") -> str:
        head = json.dumps(tree).encode()
        return base64.b64encode(struct.pack("<Q", len(head)) + head + data).decode()

    result = ["D", [["result", ["X", "float32", [2, 3], 0, 24]]]]
    assert Remote(lambda request: frame(result, bytes(24)), name="softmax")(torch.zeros(1)).shape == (2, 3)
    for tree, data in [
        (["D", [["result", ["X", "float32", [10**6, 10**6], 0, 4 * 10**12]]]], b""),  # 4 TB asked for
        (["D", [["result", ["X", "float32", [2, 3], 0, 24]]]], bytes(20)),  # 4 bytes short
        (["D", [["result", ["X", "object", [1], 0, 8]]]], bytes(8)),  # no such dtype
        (["D", [["result", {"t": "loss"}]]], b""),  # a JSON object: not a node
    ]:
        with pytest.raises(GraderError, match="not plain data"):
            Remote(lambda request, tree=tree, data=data: frame(tree, data), name="softmax")(torch.zeros(1))
    # plain data of the wrong shape: the kernel's fault, said as such (a deep tree, a list where
    # the protocol has a dict, an error that is not described)
    for tree, match in [
        (["D", [["result", 1.0], ["after", ["L", [1, 2]]]]], "not what was asked"),
        (["D", [["result", 1.0], ["after", ["D", [["tensors", ["L", []]]]]]]], "not what was asked"),
    ]:
        with pytest.raises(GraderError, match=match):
            Remote(lambda request, tree=tree: frame(tree), name="softmax")(torch.zeros(1))
    deep = ("[" * 50_000 + "]" * 50_000).encode()
    deep_frame = base64.b64encode(struct.pack("<Q", len(deep)) + deep).decode()
    with pytest.raises(GraderError, match="not plain data"):
        Remote(lambda request: deep_frame, name="softmax")(torch.zeros(1))
    with pytest.raises(Exception, match="did not describe"):
        Remote(lambda request: frame(["D", [["result", 1.0], ["error", 7]]]), name="softmax")(torch.zeros(1))
