"""Lesson 09's checkers: the challenge (a training function under a counted budget) and the quiz."""

from __future__ import annotations

import ast
import builtins
import io
import linecache
import math
import struct
from collections.abc import Callable

import torch

from course_utils.checks.calling import _call
from course_utils.checks.remote import Remote, RemoteError
from course_utils.checks.reporting import _fail, _pass

__all__ = ["BudgetExceeded", "CountedData", "check_challenge", "check_quiz"]

# When grading, train_challenge runs in a kernel of its own (grading/challenge.py) that holds no
# MNIST file: first these imports, then the one cell that defines it, nothing else of the notebook.
PRELUDE = """\
import math

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.models import MLP, SoftmaxRegression, seed_everything

torch.set_num_threads(1)  # as every lesson: the numbers of the student's own run
"""


class BudgetExceeded(RuntimeError):
    """The training function asked for more examples than its budget allows."""


class CountedData:
    """The training set, seen only through `batch(idx)`, which counts every example drawn.

    data.n is the number of training examples; data.batch(idx) returns (X[idx], y[idx]) and
    adds len(idx) to data.used; asking for more than data.budget examples in total raises
    BudgetExceeded. One example drawn = one example-gradient of the budget (a forward pass
    alone costs the same).
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, budget: int, split: str | None = None):
        self._X, self._y = X, y
        self.n = len(y)
        self.budget = int(budget)
        self.used = 0
        self.split = split  # "train": X, y are MNIST's training set (the grader sends only the name)

    # Crossing to the grading kernel (course_utils/checks/remote.py): an MNIST split goes by name.
    def _portable_state(self) -> dict:
        state = {"n": self.n, "budget": self.budget, "used": self.used, "split": self.split}
        return state if self.split else {**state, "_X": self._X, "_y": self._y}

    @classmethod
    def _portable_rebuild(cls, state: dict) -> CountedData:
        if state.get("split"):
            from course_utils.data import load_mnist

            X, y = load_mnist(state["split"])
        else:
            X, y = state["_X"], state["_y"]
        data = cls(X, y, state["budget"], state.get("split"))
        data.used = state["used"]
        return data

    def _portable_sync(self, state: dict) -> None:
        """After a graded call: how much of the budget the kernel says it used."""
        if isinstance(state.get("used"), int):
            self.used = state["used"]

    @property
    def left(self) -> int:
        return self.budget - self.used

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.long).flatten()
        if self.used + len(idx) > self.budget:
            raise BudgetExceeded(
                f"the budget of {self.budget:,} examples is used up ({self.used:,} drawn, "
                f"this batch asks for {len(idx):,} more)"
            )
        self.used += len(idx)
        return self._X[idx].clone(), self._y[idx].clone()


class MnistImages:
    """The images of an MNIST split, sent to the grading kernel by name (it loads them itself)."""

    def __init__(self, split: str):
        self.split = split

    @classmethod
    def _portable_rebuild(cls, state: dict) -> torch.Tensor:
        from course_utils.data import load_mnist

        return load_mnist(state["split"])[0]


class Isolated:
    """The grader's stand-in for train_challenge (grading/challenge.py): called as
    isolated(data, generator), it trains in a kernel of its own, drawing every batch from `data`
    here, and returns the model's test logits as a `Predictions`."""

    X_test: torch.Tensor | None = None  # the images to predict: check_challenge sets them


class Predictions:
    """What an isolated model predicted for the test images: calling it with them gives the logits."""

    def __init__(self, X: torch.Tensor, logits):
        self._X, self._logits = X, logits

    def __call__(self, X):
        if X is not self._X:
            raise TypeError("an isolated model was asked about other images than the test set")
        return self._logits


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code binds anywhere (assignments, defs, imports, arguments, loops)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _from_other_cells(fn: Callable) -> list[str]:
    """The names the cell defining `fn` reads but neither it nor PRELUDE defines (notebook cells
    only: IPython keeps each cell's source in linecache)."""
    code = getattr(fn, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return []
    if not lines or not any(isinstance(n, ast.FunctionDef) and n.name == fn.__name__ for n in tree.body):
        return []
    known = _bound_names(tree) | _bound_names(ast.parse(PRELUDE)) | set(dir(builtins))
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(n for n in read - known if n in getattr(fn, "__globals__", {}))


def check_challenge(
    train_challenge: Callable,
    seed: int = 0,
    budget: int = 60_000,
    threshold: float = 0.965,
) -> None:
    """Run train_challenge(data, generator) under a counted budget; grade its test accuracy.

    `data` is a CountedData over the 60,000 MNIST training images (budget examples at most);
    the function returns a model (any callable mapping (N, 784) images to (N, 10) logits).
    It passes when the model's accuracy on the 10,000 test images reaches `threshold`.
    """
    __tracebackhide__ = True
    from course_utils.data import load_mnist

    name = "train_challenge"
    X, y = load_mnist("train")
    X_test, y_test = load_mnist("test")
    data = CountedData(X, y, budget, split="train")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    over = object()
    elsewhere = _from_other_cells(train_challenge)
    if elsewhere:
        _fail(
            name,
            f"it uses {', '.join(elsewhere)} from another cell of your notebook. Grading runs the "
            "challenge's cell on its own, after only these imports: math, torch, F "
            "(torch.nn.functional), nn, MLP, SoftmaxRegression, seed_everything.",
            "import or define those names in the cell of train_challenge itself.",
        )

    def under_budget(data, generator):
        try:
            return train_challenge(data, generator)
        except BudgetExceeded:
            return over
        except RemoteError as err:  # raised in the grading kernel: it comes back by name
            if err.type_name == "BudgetExceeded":
                return over
            raise

    if isinstance(train_challenge, Isolated):  # grading: it holds the test images to send
        train_challenge.X_test = X_test
    model = _call(name, under_budget, data, gen, purpose=f", a budget of {budget:,}")
    if model is over:
        _fail(
            name,
            f"it asked for more than its budget of {budget:,} training examples.",
            "count your steps: steps × batch size must stay within data.budget "
            "(data.left tells what is left).",
        )
    if model is None or not callable(model):
        _fail(
            name,
            f"returned {type(model).__name__}; return the trained model.",
            "the return statement at the end of your function.",
        )
    was_training = getattr(model, "training", None)
    if hasattr(model, "eval"):
        model.eval()
    with torch.no_grad():
        logits = model(MnistImages("test") if isinstance(model, Remote) else X_test)
    if was_training and hasattr(model, "train"):
        model.train()
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(y_test), 10):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        _fail(
            name,
            f"the model maps the (10000, 784) test images to {shape}, expected (10000, 10) logits.",
            "the model's output layer.",
        )
    acc = (logits.argmax(dim=1) == y_test).float().mean().item()
    if not acc >= threshold:
        _fail(
            name,
            f"test accuracy {acc:.2%} with {data.used:,} of {budget:,} training "
            f"examples: below the {threshold:.1%} the challenge asks for.",
            "the learning rate first (lesson 09), then a schedule that decays it (lesson 07), "
            "the optimizer (lesson 08), the batch size (lesson 06) and the width of the network "
            "(lesson 05).",
        )
    _pass(
        name,
        f"test accuracy {acc:.2%} ≥ {threshold:.1%} using {data.used:,} of the "
        f"{budget:,} training examples allowed.",
    )


# ----------------------------------------------------------------- in the challenge's own kernel


MAX_FRAME = 1 << 30  # bytes: a frame of the challenge's channel larger than this is refused


# A batch travels as raw bytes (a torch.save archive, the other requests and replies, starts with
# b"PK"): the request is BATCH and the indices (int64); the answer BATCH, `used`, X's number of
# dimensions and shape (int64), X (float32) and y (int64). Plain numbers either way: nothing in
# them is code or an object, and the reader checks every length.
BATCH = b"B"


def _batch_frame(X: torch.Tensor, y: torch.Tensor, used: int) -> bytes:
    X = X.to(torch.float32).contiguous()
    head = struct.pack(f"<qq{X.dim()}q", used, X.dim(), *X.shape)
    return BATCH + head + X.numpy().tobytes() + y.to(torch.long).contiguous().numpy().tobytes()


def _from_batch_frame(frame: bytes) -> tuple[torch.Tensor, torch.Tensor, int]:
    body = memoryview(frame)[1:]
    used, dims = struct.unpack_from("<qq", body)
    if not 1 <= dims <= 4:
        raise ValueError("a malformed batch from the grader")
    shape = struct.unpack_from(f"<{dims}q", body, 16)
    start = 16 + 8 * dims
    size = math.prod(shape)
    if len(body) != start + 4 * size + 8 * shape[0]:
        raise ValueError("a malformed batch from the grader")
    X = (
        torch.frombuffer(bytearray(body[start : start + 4 * size]), dtype=torch.float32).view(shape)
        if size
        else torch.zeros(shape)
    )
    return X, _int64s(body[start + 4 * size :]), used


def _int64s(raw) -> torch.Tensor:
    """Raw little-endian int64 bytes as a tensor (a copy: frombuffer refuses an empty buffer)."""
    return torch.frombuffer(bytearray(raw) or bytearray(8), dtype=torch.long)[: len(raw) // 8]


def _send_frame(sock, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(8, "big") + payload)


def _recv_frame(sock) -> bytes | None:
    """One length-prefixed frame, or None when the other side closed the connection."""
    head = _recv_exactly(sock, 8)
    if head is None:
        return None
    size = int.from_bytes(head, "big")
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    return _recv_exactly(sock, size)


def _recv_exactly(sock, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _Channel:
    """The kernel's end of the grader's socket: a request out, its answer back (torch.save bytes)."""

    def __init__(self, path: str):
        import socket

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)

    def ask(self, request: dict) -> dict:
        buffer = io.BytesIO()
        torch.save(request, buffer)
        return torch.load(io.BytesIO(self.ask_raw(buffer.getvalue())), weights_only=True)

    def ask_raw(self, frame: bytes) -> bytes:
        _send_frame(self.sock, frame)
        reply = _recv_frame(self.sock)
        if reply is None:
            raise ConnectionError("the grader closed the challenge's channel")
        return reply


class _AskedData:
    """CountedData in the challenge's kernel: each batch comes from the grader, which counts it."""

    def __init__(self, n: int, budget: int, channel: _Channel):
        self.n, self.budget, self.used = n, budget, 0
        self._channel = channel

    @property
    def left(self) -> int:
        return self.budget - self.used

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        # The hot path (a thousand batches a run): raw int64 indices out, raw tensors back (see
        # _batch_frame), not a torch.save archive each way.
        idx = torch.as_tensor(idx, dtype=torch.long).flatten().contiguous()
        reply = self._channel.ask_raw(BATCH + idx.numpy().tobytes())
        if reply[:1] == BATCH:
            X, y, self.used = _from_batch_frame(reply)
            return X, y
        reply = torch.load(io.BytesIO(reply), weights_only=True)
        if "over" in reply:
            raise BudgetExceeded(str(reply["over"]))
        if "error" in reply:
            raise IndexError(str(reply["error"]))
        self.used = int(reply["used"])
        return reply["X"], reply["y"]


def _isolated_run(request: str) -> None:
    """Train the notebook's train_challenge on batches asked of the grader, predict the test
    images it sends, and publish the logits (or what went wrong) for the grader."""
    from IPython.display import publish_display_data

    from course_utils.checks.remote import MIME, _dump, _load, _plain, _user_namespace, _where

    req = _load(request)
    torch.set_rng_state(req["rng"])
    gen = torch.Generator()
    gen.set_state(req["gen"])
    channel = _Channel(str(req["channel"]))
    data = _AskedData(int(req["n"]), int(req["budget"]), channel)
    reply: dict = {}
    try:
        namespace = _user_namespace()
        if "train_challenge" not in namespace:
            raise NameError("name 'train_challenge' is not defined")
        model = namespace["train_challenge"](data, gen)
        if model is None or not callable(model):
            reply["returned"] = type(model).__name__
        else:
            X = channel.ask({"op": "test_images"})["X"]
            if callable(getattr(model, "eval", None)):
                model.eval()
            with torch.no_grad():
                logits = model(X)
            reply["logits"] = _plain(logits) if isinstance(logits, torch.Tensor) else type(logits).__name__
    except BudgetExceeded as err:
        reply = {"over": str(err)}
    except Exception as err:
        reply = {"error": {"type": type(err).__name__, "message": str(err), "where": _where(err)}}
    publish_display_data({MIME: _dump(reply)})


# Salted hashes of the right answers: the check can tell right from wrong without holding
# the answer in readable form.
_QUIZ = {
    "q1": ("e5920cc12241618a", "lesson 01, section 4 (the 0-1 loss and its surrogates)"),
    "q2": ("5486c1ab756d6279", "lesson 02 (random search and the curse of dimensionality)"),
    "q3": ("cbde0a1730211791", "lesson 03 (the gradient descent update)"),
    "q4": ("a4d12318f084c93d", "lesson 04 (momentum on a badly conditioned valley)"),
    "q5": ("40d9818b9c8eb829", "lesson 05, the lab (width against initialization)"),
    "q6": ("5a534484604ffae5", "lesson 06, section 3 (gradient noise)"),
    "q7": ("ad1ad72f92e8d86f", "lesson 06, section 2 (epochs and shuffling)"),
    "q8": ("6dc10b0081a65a8f", "lesson 08, sections 2 and 3 (Adagrad and RMSprop)"),
    "q9": ("f621eb2696f78b63", "lesson 08, section 4 (Adam's bias correction)"),
    "q10": ("009ddadc3245edee", "lesson 09, section 1 (what to tune first)"),
}


def check_quiz(answer_fn: Callable[[], str], question: str) -> None:
    """Check a quiz answer: answer_fn() returns one letter, a, b, c or d."""
    __tracebackhide__ = True
    import hashlib

    name = f"quiz {question}"
    if question not in _QUIZ:
        _fail(name, f"there is no question {question!r}.", f"one of {list(_QUIZ)}.")
    answer = _call(name, answer_fn)
    if not isinstance(answer, str) or answer.strip().lower() not in ("a", "b", "c", "d"):
        _fail(
            name,
            f'answer with one letter, "a", "b", "c" or "d"; got {answer!r}.',
            'the return statement: return "a" (for example).',
        )
    letter = answer.strip().lower()
    digest = hashlib.sha256(f"optim-course|{question}|{letter}".encode()).hexdigest()[:16]
    expected, where = _QUIZ[question]
    if digest != expected:
        _fail(name, f'"{letter}" is not the right answer.', where)
    _pass(name, f'"{letter}" is right.')
