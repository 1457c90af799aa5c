"""Calling a student's function in another process, with plain data crossing in both directions.

When grading, a checker runs in the trusted grading process and the student's code in the
sandboxed kernel. The checker holds a `Remote` in place of the student's function; calling it
sends the arguments to the kernel, `_serve` (run there) calls the function, and the results come
back as plain data: a JSON tree and raw tensor bytes (`_dump`, `_load`), read into numbers,
strings, containers and plain tensors only, so no tensor subclass, no code, nothing the
submission defined reaches the checker. Whatever the kernel patches, hooks
or traces in its own interpreter can change only the outputs it sends back, which the checker
compares with its own computation: the verdict is decided on the trusted side.

What crosses (both sides build the same tree, see `_Encoder` and `_decode`):
- tensors (each once, by identity, with requires_grad and .grad); after the call their data and
  .grad come back and are copied into the checker's tensors (in-place updates, stale gradients);
- numbers, strings, None, bools; lists, tuples and dicts of these; torch.Generator (its state,
  copied back after the call);
- a scalar loss tensor built from tensors among the arguments: rebuilt in the kernel as a
  surrogate with the same value and the same gradients w.r.t. those tensors (.backward() works);
- an object of a class from course_utils (its vars, or `_portable_state()`), rebuilt there; its
  state comes back only to a class that takes it (`_portable_sync`, checking what it takes): any
  other (an objective) stays as the checker made it, whatever the student's copy went through;
- a callable result (a trained model, a step function) comes back as a handle: a Remote.

In the student's own notebook nothing of this runs: a checker calls the function directly.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import importlib
import json
import math
import os
import struct
import threading
import traceback
import types
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Remote", "RemoteError", "open_channel"]

MIME = "application/x-course-grader"  # the display_data type a reply travels in
COMM_TARGET = "course-grader"  # the Jupyter comm requests and replies travel on (open_channel)
MAX_REPLY = 512 * 1024 * 1024  # bytes of base64: a reply larger than this is refused


class RemoteError(Exception):
    """An exception raised by the student's code in the kernel: its type name, message and line."""

    def __init__(self, type_name: str, message: str, where: str | None = None):
        super().__init__(message)
        self.type_name = type_name
        self.where = where


class RemoteForbidden(Exception):
    """The student's function called a function the exercise forbids (its dotted name)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class GraderError(RuntimeError):
    """The kernel did not answer a call as the protocol says (it died, timed out or sent junk)."""


# True in the grading process (grading/trusted.py sets it): no notebook shares this interpreter,
# so the checks skip their scan for tampering.
IN_GRADER = [False]

# The dotted names of the functions the current call forbids (set by calling._forbid).
_forbidden = threading.local()


@contextlib.contextmanager
def forbidding(names: list[str]):
    before = getattr(_forbidden, "names", [])
    _forbidden.names = before + names
    try:
        yield
    finally:
        _forbidden.names = before


# ----------------------------------------------------------------------------- the encoding


def _plain(t: torch.Tensor) -> torch.Tensor:
    """A plain tensor with t's values: no subclass, no graph, its own storage."""
    return t.detach().as_subclass(torch.Tensor).clone()


class _Encoder:
    """Builds the plain tree of an object graph; tensors and generators once each, by identity."""

    def __init__(
        self, handles: dict | None = None, args: dict[int, torch.Tensor] | None = None, losses: bool = True
    ):
        self.losses = losses  # False: a tensor with a graph goes as its value alone
        self.args = {id(t): k for k, t in (args or {}).items()}  # kernel side: the call's tensors
        self.arg_tensors = list((args or {}).values())
        self._losses: list[tuple[dict, torch.Tensor]] = []
        self.tensors: list[torch.Tensor] = []
        self.gens: list[torch.Generator] = []
        self.objs: list[Any] = []
        self.lists: list[list] = []
        self.handles = handles  # kernel side: callables returned get a handle number
        self._ids: dict[int, tuple[str, int]] = {}
        self._in_object = 0  # > 0 while an object's state is encoded
        self.owned: set[int] = set()  # numbers of the tensors that are part of an object's state
        self.owned_lists: set[int] = set()  # and of the lists

    def __call__(self, x: Any) -> Any:
        if x is None or type(x) in (bool, int, float, str):
            return x
        if isinstance(x, bool):
            return bool(x)
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x)
        if isinstance(x, str):
            return str(x)
        if isinstance(x, torch.Tensor):
            return self._tensor(x)
        if isinstance(x, torch.Generator):
            return self._ref("gen", x, self.gens, lambda: {"state": x.get_state()})
        if isinstance(x, torch.dtype):
            return {"t": "dtype", "name": str(x).removeprefix("torch.")}
        if isinstance(x, list | tuple):
            if isinstance(x, list):
                self.lists.append(x)  # its items may be replaced: they come back after the call
                if self._in_object:
                    self.owned_lists.add(len(self.lists) - 1)  # ... unless an object holds it
            return {"t": "list" if isinstance(x, list) else "tuple", "items": [self(v) for v in x]}
        if isinstance(x, dict):
            return {"t": "dict", "items": [[self(k), self(v)] for k, v in x.items()]}
        if isinstance(x, Remote):
            return {"t": "handle", "id": x._handle}
        if self.handles is not None and callable(x):  # kernel side: a model or function returned
            key = len(self.handles)
            self.handles[key] = x
            return {"t": "handle", "id": key, "training": getattr(x, "training", None)}
        owner = type(getattr(x, "__self__", None)).__module__ or ""
        if isinstance(x, types.MethodType) and owner.startswith("course_utils."):
            return {"t": "method", "self": self(x.__self__), "name": x.__func__.__name__}
        module = type(x).__module__ or ""
        if module.startswith("course_utils."):
            state = x._portable_state() if hasattr(x, "_portable_state") else _plain_vars(x)
            return self._ref(
                "obj",
                x,
                self.objs,
                lambda: {"cls": f"{module}:{type(x).__qualname__}", "state": self._inner(state)},
            )
        return {"t": "opaque", "type": type(x).__name__}

    def _inner(self, state: Any) -> Any:
        """An object's state: its tensors are numbered as owned (see Remote._request)."""
        self._in_object += 1
        try:
            return self(state)
        finally:
            self._in_object -= 1

    def _ref(self, kind: str, x: Any, table: list, body: Callable[[], dict]) -> dict:
        key = self._ids.get(id(x))
        if key is None:
            table.append(x)
            key = self._ids[id(x)] = (kind, len(table) - 1)
            if kind == "tensor" and self._in_object:
                self.owned.add(key[1])
            return {"t": kind, "id": key[1], "new": body()}
        return {"t": kind, "id": key[1]}

    def _tensor(self, x: torch.Tensor) -> dict:
        if id(x) in self.args:  # one of the call's own arguments, as the trusted side numbered it
            return {"t": "arg", "id": self.args[id(x)]}
        if self.losses and x.requires_grad and x.grad_fn is not None and x.numel() == 1:
            placeholder = {"t": "loss"}  # filled by finish(), once every argument is numbered
            self._losses.append((placeholder, x))
            return placeholder
        return self._ref(
            "tensor",
            x,
            self.tensors,
            lambda: {
                "data": _plain(x),
                "rg": bool(x.requires_grad),
                "grad": _plain(x.grad) if x.is_leaf and x.grad is not None else None,
            },
        )

    def finish(self, tree: Any) -> Any:
        """Fill in each scalar loss: its value and its gradients w.r.t. the tensors sent with it."""
        for placeholder, loss in self._losses:
            leaves = [t for t in [*self.tensors, *self.arg_tensors] if t.requires_grad and t.is_leaf]
            grads = torch.autograd.grad(loss, leaves, retain_graph=True, allow_unused=True) if leaves else []
            pairs = [
                [self._tensor(t), _plain(g)] for t, g in zip(leaves, grads, strict=True) if g is not None
            ]
            placeholder.update(value=_plain(loss), grads=pairs)
        self._losses.clear()
        return tree


def _plain_vars(obj: Any) -> dict:
    """An object's attributes that are data (a checker's object also holds the student's function)."""
    return {k: v for k, v in vars(obj).items() if isinstance(v, torch.Tensor) or not callable(v)}


class _Decoder:
    """Rebuilds what an _Encoder built; `tensors`/`gens` collect the objects by their number."""

    def __init__(
        self, kernel_side: bool, handles: dict | None = None, transport=None, precheck=None, args=()
    ):
        self.precheck = precheck
        self.lists: list[list] = []
        self.args = list(args)  # trusted side: the checker's tensors, as numbered in the request
        self.kernel_side = kernel_side
        self.tensors: dict[int, torch.Tensor] = {}
        self.gens: dict[int, torch.Generator] = {}
        self.objs: dict[int, Any] = {}
        self.handles = handles
        self.transport = transport

    def __call__(self, x: Any) -> Any:
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, torch.Tensor):
            return _plain(x)
        if not isinstance(x, dict):
            raise GraderError(f"unexpected {type(x).__name__} in a reply")
        kind = x.get("t")
        if kind == "list":  # numbered before its items, as the encoder numbered it
            items: list = []
            self.lists.append(items)
            items.extend(self(v) for v in x["items"])
            return items
        if kind == "tuple":
            return tuple(self(v) for v in x["items"])
        if kind == "dict":
            return {self(k): self(v) for k, v in x["items"]}
        if kind == "dtype":
            dtype = getattr(torch, str(x["name"]), None)
            if not isinstance(dtype, torch.dtype):
                raise GraderError("unexpected dtype in a reply")
            return dtype
        if kind == "tensor":
            return self._tensor(x)
        if kind == "arg" and not self.kernel_side:
            return self.args[int(x["id"])]
        if kind == "gen":
            if "new" in x:
                gen = torch.Generator()
                gen.set_state(x["new"]["state"])
                self.gens[x["id"]] = gen
            return self.gens[x["id"]]
        if kind == "loss":
            value = _plain(x["value"])
            loss = value
            for ref, grad in x["grads"]:
                t = self(ref)
                loss = loss + ((t - t.detach()) * grad.to(t.dtype)).sum().to(value.dtype)
            return loss
        if kind == "obj" and self.kernel_side:
            if "new" in x:
                module, _, qualname = str(x["new"]["cls"]).partition(":")
                cls: Any = importlib.import_module(module)
                for part in qualname.split("."):
                    cls = getattr(cls, part)
                state = self(x["new"]["state"])
                if hasattr(cls, "_portable_rebuild"):
                    obj = cls._portable_rebuild(state)
                else:
                    obj = cls.__new__(cls)
                    obj.__dict__.update(state)
                self.objs[x["id"]] = obj
            return self.objs[x["id"]]
        if kind == "method" and self.kernel_side:
            return getattr(self(x["self"]), str(x["name"]))
        if kind == "handle":
            if self.kernel_side:
                return (self.handles or {})[x["id"]]
            return Remote(
                self.transport, handle=int(x["id"]), training=x.get("training"), precheck=self.precheck
            )
        if kind == "opaque":
            return _opaque(str(x.get("type", "object")))
        raise GraderError(f"unexpected {kind!r} in a reply")

    def prime(self, tree: Any) -> None:
        """Build every tensor the tree sends before decoding it (a loss may refer to one sent later)."""
        if isinstance(tree, dict):
            if tree.get("t") == "tensor" and "new" in tree:
                self._tensor(tree)
            for value in tree.values():
                self.prime(value)
        elif isinstance(tree, list | tuple):
            for value in tree:
                self.prime(value)

    def _tensor(self, x: dict) -> torch.Tensor:
        if x["id"] in self.tensors:
            return self.tensors[x["id"]]
        if "new" in x:
            new = x["new"]
            t = _plain(new["data"])
            if new.get("rg") and (t.is_floating_point() or t.is_complex()):
                t.requires_grad_(True)
            if new.get("grad") is not None:
                t.grad = _plain(new["grad"])
            self.tensors[x["id"]] = t
        return self.tensors[x["id"]]


def _opaque(type_name: str) -> object:
    """A stand-in for a result that is not plain data: it carries only its type's name."""
    cls = type(
        type_name if type_name.isidentifier() else "object", (), {"__repr__": lambda self: f"<{type_name}>"}
    )
    return cls()


# The wire format: a JSON tree (each container a tagged list: ["L", items], ["T", items],
# ["D", [[key, value], ...]], a tensor ["X", dtype, shape, offset, nbytes]) and the tensors' raw
# bytes after it. Reading it builds nothing but numbers, strings, lists, tuples, dicts and plain
# CPU tensors of a listed dtype; each tensor's size is checked against the bytes before it is
# made. (torch.save and a weights_only load did the same job at 4x the cost: lesson 02's check
# makes about 800 calls.)
_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
        torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool,
        torch.uint16, torch.uint32, torch.uint64,
    )
}  # fmt: skip
_SCALARS = (type(None), bool, int, float, str)


def _dump(tree: Any) -> str:
    blobs: list[bytes] = []
    size = 0

    def encode(x: Any) -> Any:
        nonlocal size
        if type(x) in _SCALARS:
            return x
        if isinstance(x, torch.Tensor):
            t = x.detach().resolve_conj().resolve_neg()
            if t.layout != torch.strided:
                t = t.to_dense()
            t = t.to("cpu").contiguous().reshape(-1)
            data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
            blobs.append(data)
            size += len(data)
            return ["X", str(t.dtype).removeprefix("torch."), list(x.shape), size - len(data), len(data)]
        for plain in (bool, int, float, str):  # a subclass (an enum, numpy's float64): its value
            if isinstance(x, plain):
                return plain(x)
        if isinstance(x, list):
            return ["L", [encode(v) for v in x]]
        if isinstance(x, tuple):
            return ["T", [encode(v) for v in x]]
        if isinstance(x, dict):
            return ["D", [[encode(k), encode(v)] for k, v in x.items()]]
        raise TypeError(f"{type(x).__name__} is not plain data")

    head = json.dumps(encode(tree), separators=(",", ":")).encode()
    return base64.b64encode(struct.pack("<Q", len(head)) + head + b"".join(blobs)).decode("ascii")


def _load(text: str) -> Any:
    """The tree `_dump` wrote; anything else (from a hostile kernel) raises ValueError."""
    raw = bytearray(base64.b64decode(text, validate=True))
    (length,) = struct.unpack_from("<Q", raw)
    if length > len(raw) - 8:
        raise ValueError("truncated")
    body = (raw, 8 + length)  # the tensors' bytes: from there to the end

    def decode(x: Any) -> Any:
        if type(x) in _SCALARS:
            return x
        if type(x) is not list or not x or x[0] not in ("L", "T", "D", "X"):
            raise ValueError("not a node")
        tag, *rest = x
        if tag == "X":
            return _tensor_of(rest, body)
        if len(rest) != 1 or type(rest[0]) is not list:
            raise ValueError("not a node")
        if tag == "L":
            return [decode(v) for v in rest[0]]
        if tag == "T":
            return tuple(decode(v) for v in rest[0])
        pairs = [(decode(k), decode(v)) for k, v in rest[0]]
        if any(type(k) not in _SCALARS for k, _ in pairs):
            raise ValueError("a key that is not a number or a string")
        return dict(pairs)

    return decode(json.loads(bytes(raw[8 : 8 + length])))


def _tensor_of(fields: list, body: tuple[bytearray, int]) -> torch.Tensor:
    raw, start = body
    if len(fields) != 4:
        raise ValueError("not a tensor")
    dtype, shape, offset, nbytes = fields
    if dtype not in _DTYPES or type(shape) is not list or type(offset) is not int or type(nbytes) is not int:
        raise ValueError("not a tensor")
    if any(type(n) is not int or n < 0 for n in shape):
        raise ValueError("not a shape")
    itemsize = torch.empty((), dtype=_DTYPES[dtype]).element_size()
    # checked before any allocation: a hostile header cannot ask for more memory than it sent
    if math.prod(shape) * itemsize != nbytes or offset < 0 or start + offset + nbytes > len(raw):
        raise ValueError("a tensor larger than its bytes")
    if nbytes == 0:
        return torch.empty(shape, dtype=_DTYPES[dtype])
    data = torch.frombuffer(raw, dtype=torch.uint8, count=nbytes, offset=start + offset)
    return data.clone().view(_DTYPES[dtype]).reshape(shape)


# ----------------------------------------------------------------------------- the trusted side


class Remote:
    """The student's function (or a callable it returned), called in the kernel.

    `transport(request) -> str` sends one request (base64 text) to the kernel, where `_serve`
    answers it (over the comm of `open_channel`), and returns the reply's base64 text. A call
    raises what the student's code raised: a builtin exception as itself (NotImplementedError,
    RuntimeError, ...) with `.where` (the student's line), any other as RemoteError; a call of a
    forbidden function raises calling._Forbidden.
    """

    def __init__(
        self,
        transport: Callable[[str], str],
        name: str | None = None,
        handle: int | None = None,
        training: bool | None = None,
        precheck: Callable[[list[str]], str | None] | None = None,
    ):
        self._transport = transport
        self._precheck = precheck  # the grader's scan for forbidden functions (grading/trusted.py)
        self._name = name
        self._handle = handle
        if training is not None:
            self.training = training
        self.__name__ = name or f"<returned callable {handle}>"

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}, in the grading kernel>"

    def __call__(self, *args, **kwargs):
        return self._request("call", args, kwargs)

    def repeat(self, times: int, *args, **kwargs) -> list:
        """`times` calls with the same arguments, in one round trip (generators advance)."""
        return self._request("call", args, kwargs, times=times)

    def eval(self):
        self._request("method", ("eval",), {})
        self.training = False
        return self

    def train(self, mode: bool = True):
        self._request("method", ("train", mode), {})
        self.training = mode
        return self

    def _request(self, op: str, args: tuple, kwargs: dict, times: int | None = None):
        forbid = list(getattr(_forbidden, "names", []))
        try:
            found = self._precheck(forbid) if forbid and self._precheck else None
        except Exception as err:  # the grader's own scan failed: not the student's error
            raise GraderError(
                f"the scan for forbidden functions failed ({type(err).__name__}: {err})"
            ) from None
        if found:
            from course_utils.checks.calling import _Forbidden

            forbidden = _Forbidden(forbid[0])
            forbidden.detail = found
            raise forbidden
        encoder = _Encoder()
        request = {
            "op": op,
            "name": self._name,
            "handle": self._handle,
            "args": encoder(list(args)),
            "kwargs": encoder.finish(encoder(dict(kwargs))),
            "forbid": forbid,
            "times": times,
            "no_grad": not torch.is_grad_enabled(),
            "rng": torch.get_rng_state(),  # torch's global generator, as if caller and callee shared it
        }
        # What the kernel need not send back, since it is not taken back (below): the tensors an
        # object holds, and the state of objects that do not take theirs. Only a smaller reply.
        request["skip"] = sorted(encoder.owned)
        request["sync"] = [k for k, obj in enumerate(encoder.objs) if hasattr(obj, "_portable_sync")]
        text = self._transport(_dump(request))
        if len(text) > MAX_REPLY:
            raise GraderError(f"the kernel's reply is larger than {MAX_REPLY // 2**20} MiB")
        try:
            reply = _load(text)
        except Exception as err:
            raise GraderError(f"the kernel's reply is not plain data ({type(err).__name__})") from None
        if not isinstance(reply, dict):
            raise GraderError("the kernel's reply is not plain data")
        decoder = _Decoder(
            kernel_side=False, transport=self._transport, precheck=self._precheck, args=encoder.tensors
        )
        try:  # a reply of the wrong shape (a hostile kernel) is the kernel's fault, said as such
            after = reply.get("after", {})
            # Copy back what the call changed in place: tensors (data, .grad), generators, and objects
            # that take their state back (_portable_sync). An object's other state is the checker's:
            # an objective the call rescaled or zeroed must not become the reference it is judged by.
            for key, t in enumerate(encoder.tensors):
                new = after.get("tensors", {}).get(key)
                if new is None or key in encoder.owned:
                    continue
                data = _plain(new["data"])
                with torch.no_grad():
                    if data.shape == t.shape and data.dtype == t.dtype:
                        t.copy_(data)
                    else:
                        t.data = data
                t.grad = None if new.get("grad") is None else _plain(new["grad"]).to(t.dtype)
            for key, gen in enumerate(encoder.gens):
                state = after.get("gens", {}).get(key)
                if isinstance(state, torch.Tensor):
                    gen.set_state(state.to(torch.uint8))
            for key, obj in enumerate(encoder.objs):
                state = after.get("objs", {}).get(key)
                if isinstance(state, dict):  # each state was encoded on its own: decode it on its own
                    fresh = _Decoder(kernel_side=False, transport=self._transport, args=encoder.tensors)
                    _restore_plain(obj, fresh(state))
            result = decoder(reply.get("result"))
            if isinstance(reply.get("rng"), torch.Tensor):
                torch.set_rng_state(reply["rng"].to(torch.uint8))
            sent_back = reply.get("lists", [])
            lists_decoder = _Decoder(kernel_side=False, transport=self._transport, args=encoder.tensors)
            new_lists = (
                [None if x is None else lists_decoder(x) for x in sent_back]
                if isinstance(sent_back, list)
                else []
            )
            if len(new_lists) == len(encoder.lists):
                for key, (old, new) in enumerate(zip(encoder.lists, new_lists, strict=True)):
                    if key in encoder.owned_lists:
                        continue
                    if isinstance(new, list) and old is not args and not isinstance(old, tuple):
                        old[:] = new
        except GraderError:
            raise
        except Exception as err:
            raise GraderError(f"the kernel's reply is not what was asked ({type(err).__name__})") from None
        if "forbidden" in reply:
            from course_utils.checks.calling import _Forbidden

            raise _Forbidden(str(reply["forbidden"]))
        if "error" in reply:
            raise _rebuilt(reply["error"])
        return result


def _restore_plain(obj: Any, state: Any) -> None:
    """What the kernel's copy of an object says after a call, for an object that asks for it
    (`_portable_sync`: it checks what it takes); any other object stays as the checker made it."""
    if isinstance(state, dict) and hasattr(obj, "_portable_sync"):
        obj._portable_sync(state)


def _rebuilt(error: dict) -> BaseException:
    """The student's exception, on the trusted side: a builtin type as itself, others by name."""
    if not isinstance(error, dict):  # a hostile kernel's reply: an error all the same
        error = {"type": "RemoteError", "message": "the kernel sent an error it did not describe"}
    type_name, message = str(error.get("type", "Exception")), str(error.get("message", ""))
    where = error.get("where")
    cls = getattr(builtins, type_name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
        try:
            err = cls(message)
        except Exception:
            err = RemoteError(type_name, message, where)
    else:
        err = RemoteError(type_name, message, where)
    err.where = where  # type: ignore[attr-defined]
    return err


# ----------------------------------------------------------------------------- the kernel side

_HANDLES: dict[int, Any] = {}


def open_channel() -> None:
    """Answer the grader's requests on a Jupyter comm (COMM_TARGET): each comm message holds one
    request, answered by `_serve` on the same comm. A comm message skips what an execute request
    costs (input transformers, compiling, history, post-execute hooks): half the time per call."""
    import sys

    comms = sys.modules["comm"]  # loaded by ipykernel, where this runs: not a course dependency

    def opened(comm, _open_msg) -> None:
        def on_msg(msg) -> None:
            try:
                comm.send({"reply": _serve(msg["content"]["data"]["request"])})
            except Exception as err:  # the grader's own code failed here: say so, do not hang
                comm.send({"failed": f"{type(err).__name__}: {err}"})

        comm.on_msg(on_msg)

    comms.get_comm_manager().register_target(COMM_TARGET, opened)


def _serve(text: str, namespace: dict | None = None) -> str:
    request = _load(text)
    decoder = _Decoder(kernel_side=True, handles=_HANDLES)
    decoder.prime([request["args"], request["kwargs"]])
    if isinstance(request.get("rng"), torch.Tensor):
        torch.set_rng_state(request["rng"])
    args = decoder(request["args"])
    kwargs = decoder(request["kwargs"])
    reply: dict[str, Any] = {}
    try:
        if request["handle"] is not None:
            fn = _HANDLES[request["handle"]]
        else:
            if namespace is None:
                namespace = _user_namespace()
            if request["name"] not in namespace:
                raise NameError(f"name '{request['name']}' is not defined")
            fn = namespace[request["name"]]
        if request["op"] == "method":
            method, *rest = args
            if method not in ("eval", "train"):
                raise AttributeError(method)
            if callable(getattr(fn, method, None)):  # a plain function has no eval/train: nothing to do
                getattr(fn, method)(*rest)
            result: Any = None
        else:
            from course_utils.checks.calling import _forbid, _Forbidden

            targets = [_target(n) for n in request.get("forbid", [])]
            grad = torch.no_grad() if request.get("no_grad") else contextlib.nullcontext()
            try:
                with grad, _forbid([t for t in targets if t is not None]):
                    if request.get("times") is None:
                        result = fn(*args, **kwargs)
                    else:
                        result = [fn(*args, **kwargs) for _ in range(int(request["times"]))]
            except _Forbidden as err:
                reply["forbidden"] = err.what
                result = None
        encoder = _Encoder(handles=_HANDLES, args=decoder.tensors)
        reply["result"] = encoder.finish(encoder(result))
    except Exception as err:
        reply["error"] = {"type": type(err).__name__, "message": str(err), "where": _where(err)}
        encoder = _Encoder(args=decoder.tensors)
    # The lists among the arguments as they are now: a step may put new tensors into them.
    after_lists = _Encoder(args=decoder.tensors, losses=False)
    lists = list(decoder.lists)
    reply["lists"] = [None] + [after_lists(list(items)) for items in lists[1:]]  # [0]: the call's own
    # What the call changed in place, numbered as the trusted side numbered it.
    plain = _Encoder()
    skip, sync = set(request.get("skip", [])), set(request.get("sync", []))
    reply["after"] = {
        "tensors": {
            k: {"data": _plain(t), "grad": None if t.grad is None else _plain(t.grad)}
            for k, t in decoder.tensors.items()
            if k not in skip
        },
        "gens": {k: g.get_state() for k, g in decoder.gens.items()},
        "objs": {k: plain(_state_of(o)) for k, o in decoder.objs.items() if k in sync},
    }
    reply["rng"] = torch.get_rng_state()
    return _dump(reply)


def _user_namespace() -> dict:
    """The notebook's names: IPython's user namespace, or __main__'s outside a kernel."""
    try:
        from IPython import get_ipython

        return get_ipython().user_ns
    except Exception:
        import sys

        return vars(sys.modules["__main__"])


def _state_of(obj: Any) -> dict:
    if isinstance(obj, torch.Tensor):  # rebuilt as a tensor (MnistImages): nothing to send back
        return {}
    return obj._portable_state() if hasattr(obj, "_portable_state") else _plain_vars(obj)


def _target(dotted: str):
    """(owner, attr) for a dotted name such as torch.nn.functional.softmax or torch.Tensor.softmax."""
    module, _, attr = dotted.rpartition(".")
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            owner = getattr(owner, part, None)
        return None if owner is None else (owner, attr)
    return None


def _where(err: BaseException) -> str | None:
    """The student's line that raised: the last frame outside course_utils and site-packages."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(package + os.sep) and "site-packages" not in f.filename
    ]
    if not frames:
        return None
    f = frames[-1]
    return f"line {f.lineno} of your cell: `{(f.line or '').strip()}`"
