"""How fast is the course? Prints a table of figures measured on this machine.

    python benchmarks/run.py                 # everything
    python benchmarks/run.py --no-notebooks  # skip executing the lessons
    python benchmarks/run.py --workers       # also: the grading cluster against the old pool, and
                                             # what one submission of each lesson costs a worker
    python benchmarks/run.py --threads       # also: each lesson with 2 torch threads instead of 1
    python benchmarks/run.py --json build/benchmarks.json

Measures: every solution notebook executed headless from a fresh kernel (wall
time, slowest cell, the kernel's peak memory) and their total; one full-batch
training step against a plain matmul of the same FLOP count; autograding one
submission against executing it plainly; the first MNIST load and a cached
reload. It fails only when it cannot run, never on a figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.course import ROOT


def _subprocess_json(code: str, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- notebooks


def run_one_notebook(path: str) -> dict:
    """Execute one notebook (in this process's child kernel) and report its figures."""
    from tools.notebook_runner import execute

    run = execute(Path(path))
    cell, slowest = max(run.cell_seconds.items(), key=lambda kv: kv[1])
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the reaped kernel
    return {
        "seconds": run.seconds,
        "slowest_cell": cell,
        "slowest_seconds": slowest,
        "peak_mib": peak_kib / 1024,
        "errors": len(run.errors()),
    }


def bench_notebooks(names: list[str]) -> dict:
    results = {}
    for name in names:
        path = ROOT / "solutions" / f"{name}.ipynb"
        c0, t0 = _cpu_children(), time.perf_counter()
        code = f"import json, benchmarks.run as b; print(json.dumps(b.run_one_notebook({str(path)!r})))"
        results[name] = _subprocess_json(code, env={"PYTHONPATH": str(ROOT)})
        results[name]["wall_with_kernel_start"] = time.perf_counter() - t0
        results[name]["cpu_s"] = _cpu_children() - c0
    return results


def bench_threads(names: list[str], one: dict) -> dict:
    """Lessons that choose one torch thread, run again with two (a copy with the line changed)."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            source = (ROOT / "solutions" / f"{name}.ipynb").read_text()
            if "torch.set_num_threads(1)" not in source:
                continue
            copy = Path(tmp) / f"{name}.ipynb"
            copy.write_text(source.replace("torch.set_num_threads(1)", "torch.set_num_threads(2)"))
            code = f"import json, benchmarks.run as b; print(json.dumps(b.run_one_notebook({str(copy)!r})))"
            two = _subprocess_json(code, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"})
            results[name] = {"one_thread_s": one[name]["seconds"], "two_threads_s": two["seconds"]}
    return results


# --------------------------------------------------------------------------- kernels


def _time(fn, repeat: int = 10) -> float:
    fn()
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def bench_kernels() -> dict:
    """One full-batch step (forward + backward) against two yardsticks from the same run.

    - A square matmul of the same FLOP count: what this CPU computes at best.
    - The step's memory floor: X (60,000 x 784 floats, 188 MB) must be read by the forward
      GEMM and again by the weight-gradient GEMM, so the step cannot beat two streaming reads
      of X (timed as `X.sum()`). Its FLOPs over that floor are the step's ceiling.
    For softmax regression the step's time is split into its two GEMMs and the rest.
    """
    import torch
    import torch.nn.functional as F

    from course_utils.data import load_mnist
    from course_utils.models import MLP, SoftmaxRegression

    X, y = load_mnist("train")
    n = len(y)
    read_s = _time(lambda: X.sum())
    results = {"read_X": {"ms": read_s * 1e3, "gb_per_s": X.numel() * X.element_size() / read_s / 1e9}}
    models = {
        "softmax regression 784→10": (SoftmaxRegression(), 4 * n * 784 * 10),
        "MLP 784→128→10": (MLP(hidden=(128,)), 2 * n * (2 * 784 * 128 + 3 * 128 * 10)),
    }
    for label, (model, flops) in models.items():

        def step(model=model):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(X), y).backward()

        seconds = _time(step)
        side = round((flops / 2) ** (1 / 3))  # a square matmul of (about) the same FLOP count
        a, b = torch.randn(side, side), torch.randn(side, side)
        mm_seconds = _time(lambda a=a, b=b: a @ b)
        gflops, mm_gflops = flops / seconds / 1e9, 2 * side**3 / mm_seconds / 1e9
        floor_s = 2 * read_s
        ceiling = min(flops / floor_s / 1e9, mm_gflops)  # neither memory nor compute can be beaten
        results[label] = {
            "ms": seconds * 1e3,
            "gflops": gflops,
            "matmul_gflops": mm_gflops,
            "ratio": gflops / mm_gflops,
            "floor_ms": floor_s * 1e3,
            "ceiling_gflops": ceiling,
            "ceiling_ratio": ceiling / mm_gflops,
            "of_ceiling": gflops / ceiling,
        }
    W, bias = models["softmax regression 784→10"][0].linear.weight.detach(), torch.zeros(10)
    G = torch.randn(n, 10)
    fwd, grad = _time(lambda: F.linear(X, W, bias)), _time(lambda: G.T @ X)
    step_ms = results["softmax regression 784→10"]["ms"]
    results["softmax_split_ms"] = {
        "forward GEMM": fwd * 1e3,
        "weight-gradient GEMM": grad * 1e3,
        "rest (loss, softmax, bias)": step_ms - (fwd + grad) * 1e3,
    }
    return results


# --------------------------------------------------------------------------- MNIST loading


def bench_mnist() -> dict:
    raw = ROOT / "data" / "MNIST" / "raw"
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "MNIST" / "raw"
        dest.mkdir(parents=True)
        for f in raw.glob("*.gz"):
            shutil.copy(f, dest / f.name)
        code = (
            "import time, json, torch; from course_utils.data import load_mnist; "
            "t=time.perf_counter(); load_mnist('train'); load_mnist('test'); "
            "print(json.dumps(time.perf_counter()-t))"
        )
        env = {"COURSE_DATA_DIR": tmp, "PYTHONPATH": str(ROOT)}
        first = _subprocess_json(code, env)
        cached = _subprocess_json(code, env)
    return {"first_load_s": first, "cached_reload_s": cached}


# --------------------------------------------------------------------------- grading


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_autograde(names: list[str], plain: dict) -> dict:
    """Autograde each lesson's solution as a submission; compare with executing it plainly.

    Both sides are whole commands from a fresh process: `plain` is the notebook run in a new
    kernel (its wall time includes the kernel's start), autograde is `nbgrader autograde`.
    CPU seconds (this machine's two cores are shared) are reported beside the wall times.
    The grading kernel gets torch's default threads, as the plain one does (and as grade.py gives
    a lone worker): the ratio is what grading adds, not a thread count.
    """
    import torch

    from grading.course import generate, run_nbgrader

    same_threads = {"COURSE_GRADER_THREADS": str(torch.get_num_threads())}

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        generate(names, course, course / "release_copies")
        for name in names:
            sub = course / "submitted" / "student" / name
            sub.mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / f"{name}.ipynb", sub)
            c0, t0 = _cpu_children(), time.perf_counter()
            run_nbgrader(course, "autograde", name, "--student=student", env=same_threads).check_returncode()
            seconds, cpu = time.perf_counter() - t0, _cpu_children() - c0
            p = plain[name]
            results[name] = {
                "autograde_s": seconds,
                "autograde_cpu_s": cpu,
                "plain_s": p["wall_with_kernel_start"],
                "plain_cpu_s": p["cpu_s"],
                "ratio": seconds / p["wall_with_kernel_start"],
                "cpu_ratio": cpu / p["cpu_s"],
            }
    return results


# --------------------------------------------------------------------------- the home-made pool
# grade.py's autograde until issue 18 moved it onto dask.distributed: N long-lived worker
# processes, each running nbgrader's autograde app in the course directory for one student
# after another and writing the gradebook itself. Kept here only so that `--workers` can time
# it against the LocalCluster in the same run; drop it with that comparison.


def homemade_worker(lesson: str) -> int:
    """One worker of the old pool (cwd: the course): a student id per stdin line, a JSON line back."""
    from nbgrader.apps.autogradeapp import AutogradeApp

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the answers
    sys.stdout = sys.stderr
    for line in sys.stdin:
        student, ok = line.strip(), True
        app = AutogradeApp()
        try:
            app.initialize([lesson, f"--student={student}", "--create", "--force", "--log-level=WARN"])
            app.start()
        except SystemExit as stop:
            ok = stop.code in (0, None)
        finally:
            for handler in list(app.log.handlers):
                app.log.removeHandler(handler)
        answers.write(json.dumps({"student": student, "ok": ok}) + "\n")
    return 0


def homemade_autograde(course: str, lesson: str, workers: int) -> int:
    """The old pool: `workers` threads, each feeding its worker process the next student."""
    import queue
    import threading

    students = sorted(p.parent.parent.name for p in Path(course).glob(f"submitted/*/{lesson}/{lesson}.ipynb"))
    todo: queue.Queue[str] = queue.Queue()
    for student in students:
        todo.put(student)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.setdefault("COURSE_GRADER_THREADS", str(max(1, cores // workers)))
    code = f"import sys, benchmarks.run as b; sys.exit(b.homemade_worker({lesson!r}))"
    failed = []

    def serve() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=course,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        while True:
            try:
                student = todo.get_nowait()
            except queue.Empty:
                break
            proc.stdin.write(student + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
            if not answer or not json.loads(answer)["ok"]:
                failed.append(student)
        proc.stdin.close()
        proc.wait()

    threads = [threading.Thread(target=serve) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 1 if failed else 0


_COST = re.compile(r"per submission on the workers: ([\d.]+) s, ([\d.]+) CPU s")


def bench_workers(name: str, students: int = 4) -> dict:
    """Seconds to autograde `students` copies of one lesson: the home-made pool of 2 workers (the
    figure before dask), `grade.py autograde` on a LocalCluster of 1 worker and on the default one
    (a worker per core); into the default SQLite gradebook and into a PostgreSQL server."""
    from tools.postgres import postgres_server

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    grade = [sys.executable, str(ROOT / "grading" / "grade.py")]
    old = [
        sys.executable,
        "-c",
        "import sys, benchmarks.run as b; sys.exit(b.homemade_autograde(*sys.argv[1:3], 2))",
    ]
    runs = {
        "home-made pool, 2 workers": lambda course: [*old, str(course), name],
        "LocalCluster, 1 worker": lambda course: [
            *grade,
            "--course",
            str(course),
            "autograde",
            name,
            "--workers",
            "1",
        ],
        f"LocalCluster, default ({cores} workers)": lambda course: [
            *grade,
            "--course",
            str(course),
            "autograde",
            name,
        ],
    }
    results, cost = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        for i in range(students):
            (inbox / f"s{i}").mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / f"{name}.ipynb", inbox / f"s{i}" / f"{name}.ipynb")
        for db in ("sqlite", "postgresql"):
            with contextlib.ExitStack() as stack:
                env = dict(os.environ)
                if db == "postgresql":
                    env["COURSE_GRADEBOOK_URL"] = stack.enter_context(postgres_server())
                for k, (label, command) in enumerate(runs.items()):
                    course = Path(tmp) / f"{db}-{k}"
                    for step in (["release", name], ["collect", str(inbox)]):
                        subprocess.run(
                            [*grade, "--course", str(course), *step], env=env, check=True, capture_output=True
                        )
                    t0 = time.perf_counter()
                    out = subprocess.run(
                        command(course), cwd=ROOT, env=env, check=True, capture_output=True, text=True
                    ).stdout
                    results[f"{db}, {label}"] = time.perf_counter() - t0
                    if found := _COST.search(out):
                        cost[f"{db}, {label}"] = {"wall_s": float(found[1]), "cpu_s": float(found[2])}
    return {"lesson": name, "students": students, "seconds": results, "per_submission": cost}


def bench_cost(names: list[str], students: int = 2) -> dict:
    """Per lesson, what one submission (the solution) costs a worker of the default LocalCluster:
    wall and CPU seconds, the grading kernel's included (grade.py's own figures)."""
    grade = [sys.executable, str(ROOT / "grading" / "grade.py")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        course, inbox = Path(tmp) / "course", Path(tmp) / "inbox"
        for i in range(students):
            (inbox / f"s{i}").mkdir(parents=True)
            for name in names:
                shutil.copy(ROOT / "solutions" / f"{name}.ipynb", inbox / f"s{i}" / f"{name}.ipynb")
        for step in (["release", *names], ["collect", str(inbox)]):
            subprocess.run([*grade, "--course", str(course), *step], check=True, capture_output=True)
        for name in names:
            out = subprocess.run(
                [*grade, "--course", str(course), "autograde", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            found = _COST.search(out)
            if found:
                results[name] = {"wall_s": float(found[1]), "cpu_s": float(found[2])}
    return results


def print_workers(w: dict, plain: float | None) -> None:
    print(
        f"| autograde {w['students']} submissions of {w['lesson']} | seconds | per submission "
        "| × plain | on a worker: s / CPU s per submission |\n| --- | --- | --- | --- | --- |"
    )
    for label, sec in w["seconds"].items():
        each = sec / w["students"]
        ratio = f"{each / plain:.2f} ×" if plain else ""
        c = w["per_submission"].get(label)
        print(
            f"| {label} | {sec:.1f} | {each:.1f} | {ratio} | "
            + (f"{c['wall_s']:.1f} / {c['cpu_s']:.1f} |" if c else "|")
        )
    print()


def print_cost(c: dict) -> None:
    print("| one submission on a LocalCluster worker | seconds | CPU seconds |\n| --- | --- | --- |")
    for name, r in c.items():
        print(f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} |")
    if c:
        cpu = sum(r["cpu_s"] for r in c.values())
        print(
            f"| **a student's {len(c)} lessons** | **{sum(r['wall_s'] for r in c.values()):.1f}** "
            f"| **{cpu:.1f}** |\n"
        )
        print(
            f"80,000 notebooks (10,000 students × {len(c)} lessons): {10_000 * cpu / 3600:.0f} CPU-hours "
            "on such cores\n"
        )


# --------------------------------------------------------------------------- report


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--no-notebooks", action="store_true")
    ap.add_argument(
        "--workers",
        action="store_true",
        help="also time grading on the default LocalCluster against the old 2-worker pool "
        "(SQLite, PostgreSQL), and each lesson's cost per submission",
    )
    ap.add_argument(
        "--threads", action="store_true", help="also run the lessons that choose one torch thread with two"
    )
    ap.add_argument("--json", type=Path, default=ROOT / "build" / "benchmarks.json")
    args = ap.parse_args(argv)
    names = sorted(p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

    report = {"machine": machine()}
    print(f"machine: {report['machine']}\n")
    report["mnist"] = m = bench_mnist()
    print("| MNIST | seconds | target |\n| --- | --- | --- |")
    print(f"| first load (unpack, normalize, store) | {m['first_load_s']:.2f} | |")
    print(f"| cached reload (new process) | {m['cached_reload_s']:.3f} | ≤ 0.5 |\n")

    report["kernels"] = k = bench_kernels()
    rx = k["read_X"]
    print(f"reading X once (X.sum(), 188 MB): {rx['ms']:.1f} ms = {rx['gb_per_s']:.1f} GB/s\n")
    steps = {label: r for label, r in k.items() if "gflops" in r}
    print(
        "| full-batch step, 60,000 examples | ms | GFLOP/s | same-FLOP matmul GFLOP/s | ratio | target "
        "| memory floor ms (X read twice) | ceiling GFLOP/s | ceiling / matmul | step / ceiling |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, r in steps.items():
        print(
            f"| {label} | {r['ms']:.1f} | {r['gflops']:.1f} | {r['matmul_gflops']:.1f} | "
            f"{r['ratio']:.0%} | ≥ 50 % | {r['floor_ms']:.1f} | {r['ceiling_gflops']:.1f} | "
            f"{r['ceiling_ratio']:.0%} | {r['of_ceiling']:.0%} |"
        )
    print("\n| softmax-regression step, split | ms |\n| --- | --- |")
    for part, ms in k["softmax_split_ms"].items():
        print(f"| {part} | {ms:.1f} |")
    print()

    if not args.no_notebooks:
        report["notebooks"] = nbs = bench_notebooks(names)
        print("| lesson | seconds | slowest cell (s) | kernel peak MiB | errors | target |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, r in nbs.items():
            print(
                f"| {name} | {r['seconds']:.1f} | {r['slowest_cell']} ({r['slowest_seconds']:.1f}) "
                f"| {r['peak_mib']:.0f} | {r['errors']} | ≤ 60 |"
            )
        total = sum(r["seconds"] for r in nbs.values())
        report["total_s"] = total
        print(f"| **whole course** | **{total:.1f}** | | | | ≤ 300 |\n")
        report["autograde"] = g = bench_autograde(names, nbs)
        print(
            "| autograde one submission (the solution) | autograde s | plain s | ratio | "
            "CPU s autograde / plain | CPU ratio | target |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, r in g.items():
            print(
                f"| {name} | {r['autograde_s']:.1f} | {r['plain_s']:.1f} | {r['ratio']:.2f} × | "
                f"{r['autograde_cpu_s']:.1f} / {r['plain_cpu_s']:.1f} | {r['cpu_ratio']:.2f} × | ≤ 1.3 × |"
            )
        print()
    if args.threads and not args.no_notebooks:
        report["threads"] = th = bench_threads(names, nbs)
        print("| lesson | 1 torch thread s | 2 torch threads s |\n| --- | --- | --- |")
        for name, r in th.items():
            print(f"| {name} | {r['one_thread_s']:.1f} | {r['two_threads_s']:.1f} |")
        print()
    if args.workers:  # the lesson whose single autograde weighs most against its plain run
        report["workers"] = w = bench_workers("03_gradient_descent")
        print_workers(w, report.get("notebooks", {}).get(w["lesson"], {}).get("wall_with_kernel_start"))
        report["cost"] = c = bench_cost(names)
        print_cost(c)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
