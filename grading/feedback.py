"""Feedback pages that teach without giving away the hidden tests.

nbgrader's generate_feedback renders the autograded notebook, hidden tests and
tracebacks included (nbgrader issues #917 and #1363), and a traceback tells a
student little. Our checkers already print the diagnosis ("what is wrong",
"Look at: ..."), so each page is built from that: per graded check its points
from the gradebook, what the checker printed, and the exception's name and
message; never a cell's source, never a traceback. Every line that still
contains a hidden-test line is dropped, and a page in which one is found all
the same is not written. A dead kernel or a cell that ran out of time is named,
with the points it cost.

    python grading/grade.py feedback LESSON [--workers N]

writes course/feedback/<student>/<LESSON>/<LESSON>.html (nbgrader's layout, so
`nbgrader release_feedback` can hand it out). Only the page goes back to the
student: the autograded notebook, which keeps the hidden tests, stays with the
instructor.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat

from grading.course import grade_id as grade_id_of
from grading.course import is_grade, is_solution, is_test, points
from grading.files import fresh_dir, read_regular, remove, write_new

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
# grading/guard.py (and sandbox.py's NotebookTimeLimit): later cells were not run
HARD_STOPS = {"KernelDied", "CellTimeout", "NotebookTimeout"}
INTERRUPTED = "CellTimeoutError"  # nbclient: the cell was interrupted, the kernel went on
MAX_LINES = 40  # of printed text per check: a student's own prints can be long


# --------------------------------------------------------------------------- #
# Keeping the hidden tests out
# --------------------------------------------------------------------------- #


def hidden_lines(source: Path) -> frozenset[str]:
    """The stripped lines (longer than 3 characters) of the source notebook's hidden-test blocks."""
    nb = nbformat.read(source, as_version=4)
    lines: set[str] = set()
    for cell in nb.cells:
        for block in HIDDEN.findall(cell.source):
            lines.update(s for s in (line.strip() for line in block.splitlines()) if len(s) > 3)
    return frozenset(lines)


def scrub(text: str, hidden: frozenset[str]) -> str:
    """The text without colour codes and without any line that contains a hidden-test line."""
    kept = [line for line in ANSI.sub("", text).splitlines() if not any(h in line for h in hidden)]
    return "\n".join(kept)


def leaks(page: str, hidden: frozenset[str]) -> list[str]:
    """Hidden-test lines found in a page, as written or HTML-escaped."""
    return [h for h in hidden if h in page or html.escape(h) in page or html.escape(h, False) in page]


# --------------------------------------------------------------------------- #
# Reading the notebooks
# --------------------------------------------------------------------------- #


def _heading(cell) -> str | None:
    if cell.cell_type != "markdown":
        return None
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    if not first.startswith("#"):
        return None
    return first.lstrip("#").strip() or None


def _heading_before(cells, index: int) -> str | None:
    return next((h for c in reversed(cells[:index]) if (h := _heading(c))), None)


def _find(cells, grade_id: str, cell_id: str | None = None) -> int | None:
    for i, cell in enumerate(cells):
        if grade_id_of(cell) == grade_id:
            return i
    return next((i for i, c in enumerate(cells) if cell_id and c.get("id") == cell_id), None)


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _said_above(errors: list) -> set[str]:
    """The error names the page's stop notice explains (KeyboardInterrupt: the timeout's interrupt)."""
    names = {e.get("ename") for e in errors}
    return HARD_STOPS | {"NotRun", INTERRUPTED} | ({"KeyboardInterrupt"} if INTERRUPTED in names else set())


def _printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@lru_cache(maxsize=8)
def _lesson(release: Path, source: Path) -> tuple:
    """(title, release cells, hidden lines), read once per worker process."""
    nb = nbformat.read(release, as_version=4)
    title = next((h for c in nb.cells if (h := _heading(c))), release.stem)
    return title, nb.cells, hidden_lines(source)


# --------------------------------------------------------------------------- #
# What a page says
# --------------------------------------------------------------------------- #


@dataclass
class Check:
    grade_id: str
    exercise: str
    section: str | None
    score: float | None
    possible: float
    status: str  # passed | partly | failed | not attempted | not run | not graded
    verdict: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Report:
    student: str
    lesson: str
    title: str
    checks: list[Check]
    alerts: list[tuple[str, str]]  # ("alert" or "note", text)

    @property
    def score(self) -> float:
        return sum(c.score or 0 for c in self.checks)

    @property
    def possible(self) -> float:
        return sum(c.possible for c in self.checks)


def _pts(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _n(count: float, noun: str) -> str:
    return f"{count:g} {noun}{'' if count == 1 else 's'}"


def _where(cells, index: int, hidden: frozenset[str]) -> str:
    """A cell in words the student can find: the exercise, or its first line, and its section."""
    cell = cells[index]
    if is_solution(cell):
        what = f"your exercise cell `{grade_id_of(cell) or '?'}`"
    elif is_grade(cell):
        what = f"the check `{grade_id_of(cell) or '?'}`"
    else:  # an ordinary cell: never a test cell, so its first line is safe to quote
        first = next((s.strip() for s in cell.source.splitlines() if s.strip()), "")
        first = scrub(first, hidden)[:70]
        what = f"the code cell that starts with `{first}`" if first else f"code cell {index}"
    section = _heading_before(cells, index)
    return what + (f" in section “{section}”" if section else "")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _stops(cells, scores: dict, hidden: frozenset[str]) -> list[tuple[str, str]]:
    """("alert" or "note", plain words) for each kernel death or timeout: where, and what it cost."""
    said = []
    graded = [(i, grade_id_of(c)) for i, c in enumerate(cells) if is_test(c)]
    for i, cell in enumerate(cells):
        names = {e.get("ename") for e in _errors(cell)}
        if names & HARD_STOPS:
            affected = [g for j, g in graded if j >= i]
            not_run = sum(1 for c in cells[i + 1 :] if c.cell_type == "code")
            if "NotebookTimeout" in names:
                said_limit = " ".join(e.get("evalue", "") for e in _errors(cell))
                limit = re.search(r"\((\d+) s for the whole notebook\)", said_limit)
                seconds = f"{limit.group(1)} s, " if limit else ""
                what = (
                    f"The notebook ran out of its time limit ({seconds}the notebook time limit for the "
                    f"whole notebook) while running {_where(cells, i, hidden)}, so the kernel was stopped."
                )
            elif "KernelDied" in names:
                what = (
                    f"The kernel died while running {_where(cells, i, hidden)} (os._exit(), exit(), "
                    "a crash, or the grader's memory or CPU limit)."
                )
            else:
                said_limit = " ".join(e.get("evalue", "") for e in _errors(cell))
                limit = re.search(r"longer than (\d+) s", said_limit)
                what = (
                    f"{_cap(_where(cells, i, hidden))} ran longer than "
                    f"{limit.group(1) + ' s' if limit else 'the time limit'} and did not stop when "
                    "interrupted, so the kernel was stopped."
                )
            what += f" The {_n(not_run, 'code cell')} after it did not run."
        elif INTERRUPTED in names:
            # The kernel went on: what the cell should have defined is missing for the checks of
            # its section (up to the next exercise cell).
            end = next((j for j in range(i + 1, len(cells)) if is_solution(cells[j])), len(cells))
            affected = [g for j, g in graded if i <= j < end]
            what = (
                f"{_cap(_where(cells, i, hidden))} ran longer "
                "than the time limit and was interrupted; the notebook went on from the next cell."
            )
        else:
            continue
        lost = [(g, scores[g]) for g in affected if g in scores and (scores[g][0] or 0) < scores[g][1]]
        cost = sum(m - (s or 0) for _, (s, m) in lost)
        if lost:
            detail = ", ".join(f"`{g}` {_pts(s)}/{_pts(m)}" for g, (s, m) in lost)
            what += f" This cost {_n(cost, 'point')}: {detail}."
        else:
            what += " It cost no points."
        said.append(("alert" if lost else "note", scrub(what, hidden)))
    return said


def _check(cells, index: int, ag_cells, scores: dict, hidden: frozenset[str]) -> Check:
    """One graded check: points, verdict and the checker's diagnosis (never source or traceback)."""
    cell = cells[index]
    grade_id = grade_id_of(cell) or f"cell {index}"  # a released test cell always has its id
    ex = next((j for j in range(index - 1, -1, -1) if is_solution(cells[j])), None)
    exercise = (grade_id_of(cells[ex]) or grade_id) if ex is not None else grade_id
    section = _heading_before(cells, ex if ex is not None else index)
    score, possible = scores.get(grade_id, (None, points(cell)))

    def not_graded(why: str) -> Check:
        return Check(grade_id, exercise, section, score, possible, "not graded", why)

    if ag_cells is None:
        return not_graded("Not graded: there was no notebook to run (see above).")
    at = _find(ag_cells, grade_id, cell.get("id"))
    if at is None:
        return not_graded("This check was not found in your notebook.")
    ag = ag_cells[at]
    errors = _errors(ag)
    names = {e.get("ename") for e in errors}
    printed = scrub(_printed(ag), hidden)
    lines = list(dict.fromkeys(line.rstrip() for line in printed.splitlines() if line.strip()))
    said_above = _said_above(errors)
    if INTERRUPTED in names:
        lines.append("This check ran longer than the time limit and was interrupted (see above).")
    for e in errors:  # the message, unless the checker already printed it
        if e.get("ename") in said_above:
            continue  # said once, above the checks
        if e.get("ename") == "NotImplementedError" and "⏳" in printed:
            continue  # the checker's reminder says it
        message = scrub(str(e.get("evalue", "")), hidden).strip()
        if message and message in printed:
            continue
        first, *rest = message.splitlines() or [""]
        lines.append(f"{e.get('ename')}: {first}" if first else str(e.get("ename")))
        lines.extend(rest)
    own = _find(ag_cells, exercise, cells[ex].get("id")) if ex is not None else None
    if own is not None:
        own_errors = _errors(ag_cells[own])
        for e in own_errors:
            if e.get("ename") == INTERRUPTED:
                lines.insert(
                    0,
                    f"Your cell `{exercise}` was interrupted (it ran out of time), "
                    "so the check could not use it.",
                )
                continue
            if e.get("ename") in _said_above(own_errors):
                continue
            msg = scrub(f"{e.get('ename')}: {e.get('evalue', '')}", hidden).strip()
            lines.insert(0, f"Your cell `{exercise}` itself raised {msg}, so the check could not use it.")
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"… ({len(lines) - MAX_LINES} more lines)"]

    if score is None:
        status, verdict = "not graded", "Not graded yet: waiting for a grader."
    elif score >= possible:
        status, verdict = "passed", "Passed."
    elif "NotRun" in names:
        status, verdict = "not run", "Not run: the notebook had stopped before this check (see above)."
    elif names & HARD_STOPS:
        status, verdict = "not run", "Stopped while running this check (see above)."
    elif "NotImplementedError" in names:
        status, verdict = "not attempted", "Not attempted yet: the function still raises NotImplementedError."
    elif score > 0:
        status, verdict = "partly", "Partly right. What the check found:"
    else:
        status, verdict = "failed", "Not right yet. What the check found:"
    if (
        status in ("failed", "partly")
        and any(s.startswith("✅") for s in lines)
        and any(s.startswith("❌") for s in lines)
    ):
        verdict += (
            " it passed on the notebook's own inputs but not on the grader's other inputs "
            "(other seeds and sizes)."
        )
    return Check(grade_id, exercise, section, score, possible, status, verdict, lines)


def report(course: Path, lesson: str, student: str, scores: dict | None, problem: str | None) -> Report:
    """Everything one student's page says; scores: grade_id -> (score, max) from the gradebook."""
    title, cells, hidden = _lesson(
        course / "release" / lesson / f"{lesson}.ipynb", course / "source" / lesson / f"{lesson}.ipynb"
    )
    scores = scores or {}
    path = course / "autograded" / student / lesson / f"{lesson}.ipynb"
    ag_cells = nbformat.read(path, as_version=4).cells if path.is_file() else None
    alerts = []
    if problem:
        if problem.startswith("autograde failed"):
            alerts.append(
                ("alert", "Your notebook could not be graded automatically; your instructor has been told.")
            )
        else:
            alerts.append(("alert", scrub(f"Your submission: {problem}.", hidden)))
    elif ag_cells is None:
        alerts.append(("alert", "Your notebook has not been graded yet."))
    if ag_cells is not None:
        alerts.extend(_stops(ag_cells, scores, hidden))
    checks = [_check(cells, i, ag_cells, scores, hidden) for i, c in enumerate(cells) if is_test(c)]
    return Report(student, lesson, title, checks, alerts)


# --------------------------------------------------------------------------- #
# The page
# --------------------------------------------------------------------------- #

ICON = {
    "passed": "✅",
    "partly": "🟡",
    "failed": "❌",
    "not attempted": "⏳",
    "not run": "⛔",
    "not graded": "❔",
}
LABEL = {
    "passed": "passed",
    "partly": "partly right",
    "failed": "to fix",
    "not attempted": "not attempted yet",
    "not run": "not run",
    "not graded": "not graded",
}

CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif,"Apple Color Emoji","Segoe UI Emoji",
  "Noto Color Emoji";color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:860px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:.2em 0 .6em}
.who{color:#57606a;margin:0}
.summary{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:20px}
.total{font-size:1.4em;font-weight:600}
.summary ul{margin:.4em 0;padding-left:1.2em}
.alert{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:.6em 0}
.note{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px;margin:.6em 0}
.check{background:#fff;border:1px solid #d0d7de;border-left:6px solid #8c959f;border-radius:8px;
  padding:12px 20px;margin-bottom:14px}
.check.passed{border-left-color:#1a7f37}.check.failed{border-left-color:#cf222e}
.check.partly{border-left-color:#bf8700}.check.not-attempted{border-left-color:#0969da}
.check.not-run{border-left-color:#6e7781}
.check h2{font-size:1.15em;margin:0;display:flex;gap:.5em;align-items:baseline}
.check h2 .section{font-weight:400;color:#57606a;font-size:.85em}
.check h2 .pts{margin-left:auto;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{margin:.4em 0}
pre{background:#f6f8fa;border-radius:6px;padding:10px 12px;white-space:pre-wrap;margin:.4em 0;
  font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace,"Apple Color Emoji","Segoe UI Emoji",
  "Noto Color Emoji"}
footer{color:#57606a;font-size:.85em;margin-top:24px}
"""


def render(r: Report) -> str:
    """The report as one self-contained HTML page; every text is escaped."""
    e = html.escape
    counts: dict[str, list[str]] = {}
    for c in r.checks:
        counts.setdefault(c.status, []).append(c.exercise)
    summary = "".join(
        f"<li>{ICON[s]} {LABEL[s]}: {e(', '.join(dict.fromkeys(names)))}</li>"
        for s in ICON
        if (names := counts.get(s))
    )
    alerts = "".join(
        f'<p class="{kind}">{"⚠️" if kind == "alert" else "ℹ️"} {e(text)}</p>' for kind, text in r.alerts
    )
    sections = []
    for c in r.checks:
        body = f"<pre>{e(chr(10).join(c.lines))}</pre>" if c.lines else ""
        section = f'<span class="section">· {e(c.section)}</span>' if c.section else ""
        sections.append(
            f'<section class="check {c.status.replace(" ", "-")}" id="{e(c.grade_id)}">'
            f"<h2><span>{ICON[c.status]}</span><span>{e(c.exercise)}</span>{section}"
            f'<span class="pts">{_pts(c.score)} / {_pts(c.possible)} points</span></h2>'
            f'<p class="verdict">{e(c.verdict)}</p>{body}</section>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Feedback · {e(r.lesson)} · {e(r.student)}</title><style>{CSS}</style></head><body><main>"
        f'<p class="who">Feedback for <b>{e(r.student)}</b> · {e(r.lesson)}</p><h1>{e(r.title)}</h1>'
        f'<section class="summary"><div class="total">{_pts(r.score)} / {_pts(r.possible)} points</div>'
        f"<ul>{summary}</ul>{alerts}</section>{''.join(sections)}"
        "<footer>Points are those of the gradebook. Each check also ran on other inputs than the "
        "ones in your notebook; what it found is shown, the code of those runs is not.</footer>"
        "</main></body></html>\n"
    )


# --------------------------------------------------------------------------- #
# A whole class
# --------------------------------------------------------------------------- #


def _page(course: Path, lesson: str, student: str, scores: dict | None, problem: str | None) -> tuple:
    """(page HTML, score, possible) of one student, from the files of course; raises if it leaks."""
    r = report(course, lesson, student, scores, problem)
    page = render(r)
    found = leaks(
        page,
        _lesson(
            course / "release" / lesson / f"{lesson}.ipynb", course / "source" / lesson / f"{lesson}.ipynb"
        )[2],
    )
    if found:
        raise RuntimeError(f"page would show hidden-test line(s) {found}; not written")
    return page, r.score, r.possible


def _save_page(course: Path, lesson: str, student: str, page: str | None) -> Path:
    """The page into feedback/<student>/<lesson>/ with what nbgrader release_feedback reads; an
    older page is removed first (nbgrader's showed the hidden tests), and stays removed without one."""
    if page is None:
        remove(course / "feedback" / student / lesson)
        return course / "feedback" / student / lesson
    out = fresh_dir(course, "feedback", student, lesson)  # no link followed (grading/files.py)
    write_new(out / f"{lesson}.html", page.encode("utf-8"))
    graded = course / "autograded" / student / lesson
    for name in ("timestamp.txt", "submission_secret.txt"):
        data = read_regular(graded / name)
        if data is not None:
            write_new(out / name, data)
    return out / f"{lesson}.html"


def _write_page(job: tuple) -> tuple[str, str, float, float, str | None]:
    """(student, page path, score, possible, error): one student's page, in this process."""
    course, lesson, student, scores, problem = job
    try:
        _save_page(course, lesson, student, None)
        page, score, possible = _page(course, lesson, student, scores, problem)
        return student, str(_save_page(course, lesson, student, page)), score, possible, None
    except Exception as err:  # one bad submission must not stop the class
        return student, str(course / "feedback" / student / lesson), 0.0, 0.0, f"{type(err).__name__}: {err}"


_SCRATCH: dict[str, Path] = {}  # lesson digest -> a scratch course holding its release and source


def page_task(
    lesson: dict, student: str, scores: dict | None, problem: str | None, autograded: str | None
) -> tuple[str, str | None, float, float, str | None]:
    """(student, page HTML or None, score, possible, error): one student's page, built on a dask
    worker from plain data (the lesson's release and source notebooks, the autograded notebook);
    the coordinating process writes it. A worker needs no copy of the course directory."""
    from grading.worker import scratch

    name = lesson["name"]
    root = _SCRATCH.get(lesson["digest"])
    if root is None or not root.is_dir():
        root = scratch() / f"feedback-{name}-{lesson['digest'][:12]}"
        shutil.rmtree(root, ignore_errors=True)
        for kind in ("release", "source"):
            (root / kind / name).mkdir(parents=True)
            (root / kind / name / f"{name}.ipynb").write_bytes(lesson[kind])
        _SCRATCH[lesson["digest"]] = root
    graded = root / "autograded" / student / name
    try:
        if autograded is not None:
            graded.mkdir(parents=True, exist_ok=True)
            (graded / f"{name}.ipynb").write_text(autograded, encoding="utf-8")
        return (student, *_page(root, name, student, scores, problem), None)
    except Exception as err:  # one bad submission must not stop the class
        return student, None, 0.0, 0.0, f"{type(err).__name__}: {err}"
    finally:
        shutil.rmtree(root / "autograded" / student, ignore_errors=True)


def _pages_on_cluster(
    course: Path, lesson: str, jobs: list[tuple], workers: int | None, scheduler: str | None
) -> list[tuple]:
    """The pages built by a dask cluster (grading/worker.py `cluster`), written here as they come."""
    import hashlib

    from distributed import as_completed

    from grading import worker

    files = {
        kind: (course / kind / lesson / f"{lesson}.ipynb").read_bytes() for kind in ("release", "source")
    }
    payload = {
        "name": lesson,
        "digest": hashlib.sha256(files["release"] + files["source"]).hexdigest(),
        **files,
    }
    results = []
    with worker.cluster(workers, scheduler) as client:
        held = client.submit(worker.hold, payload, key=f"feedback-{lesson}-{payload['digest'][:12]}")
        todo = list(reversed(jobs))

        def submit(job: tuple):
            _, _, student, scores, problem = job
            path = course / "autograded" / student / lesson / f"{lesson}.ipynb"
            text = path.read_text(encoding="utf-8") if path.is_file() else None
            return client.submit(page_task, held, student, scores, problem, text, pure=False)

        window = max(8, 4 * worker.threads_of(client))
        pending = as_completed([submit(todo.pop()) for _ in range(min(window, len(todo)))])
        for future in pending:
            student, page, score, possible, error = future.result()
            future.release()
            if todo:
                pending.add(submit(todo.pop()))
            try:
                path = _save_page(course, lesson, student, None if error else page)
            except Exception as err:  # noqa: BLE001 (this page fails; the class goes on)
                path, error = course / "feedback" / student / lesson, f"{type(err).__name__}: {err}"
            results.append((student, str(path), score, possible, error))
        held.release()
    return sorted(results)


def _gradebook_scores(db_url: str, lesson: str) -> dict[str, dict]:
    """student -> {grade_id: (score or None while a human must grade it, max_score)}."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            submissions = gb.find_assignment(lesson).submissions
        except MissingEntry:
            return {}
        return {
            sub.student.id: {
                g.name: (None if g.needs_manual_grade and g.manual_score is None else g.score, g.max_score)
                for nb in sub.notebooks
                for g in nb.grades
            }
            for sub in submissions
        }


def _cores() -> int:
    from grading.worker import cores

    return cores()


def write_pages(
    course: Path,
    lesson: str,
    db_url: str,
    problems: dict,
    workers: int | None = None,
    scheduler: str | None = None,
) -> int:
    """One page per student of `lesson` (gradebook or problems.json); 1 if any failed.

    Built by a LocalCluster of `workers` processes (default one per core; 1: in this process), or
    by the dask cluster at `scheduler`; written here."""
    course = course.resolve()
    if not (course / "release" / lesson / f"{lesson}.ipynb").is_file():
        print(f"{lesson} is not released in {course}: run release and autograde first")
        return 1
    scores = _gradebook_scores(db_url, lesson)
    prefix = f"{lesson}/"
    students = sorted(set(scores) | {k[len(prefix) :] for k in problems if k.startswith(prefix)})
    if not students:
        print(f"no graded submissions of {lesson}: run autograde first")
        return 0
    jobs = [(course, lesson, s, scores.get(s), problems.get(prefix + s)) for s in students]
    t0 = time.perf_counter()
    if (scheduler or (workers or _cores()) > 1) and len(jobs) > 1:
        results = _pages_on_cluster(course, lesson, jobs, workers, scheduler)
    else:
        results = [_write_page(j) for j in jobs]
    failed = 0
    for student, path, score, possible, error in results:
        if error:
            failed += 1
            print(f"  {student}: FAILED: {error}")
        else:
            print(f"  {student}: {score:g}/{possible:g} -> {Path(path).relative_to(course)}")
    where = f"the cluster at {scheduler}" if scheduler else f"{workers or _cores()} worker(s)"
    print(
        f"wrote {len(results) - failed}/{len(results)} feedback page(s) for {lesson} in "
        f"{time.perf_counter() - t0:.1f} s with {where}"
    )
    return 1 if failed else 0
