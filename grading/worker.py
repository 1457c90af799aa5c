"""One autograding worker: grades the students it is sent, one at a time, in one process.

    python -m grading.worker LESSON      (in the course directory; grade.py starts it)

Reads a student id per line on stdin and answers each with one JSON line on
stdout: {"student": ..., "ok": true|false, "seconds": ..., "error": ...}.
Importing nbgrader and its dependencies takes about 3 s of CPU, as long as
grading a short lesson's cells: a worker pays it once for all its students,
not once per student. Each student is still graded by nbgrader's own
`autograde` app, with the course's nbgrader_config.py, exactly as
`nbgrader autograde LESSON --student=ID --create --force` would.
"""

from __future__ import annotations

import json
import os
import sys
import time


def grade_one(lesson: str, student: str) -> tuple[bool, str]:
    from nbgrader.apps.autogradeapp import AutogradeApp

    app = AutogradeApp()
    try:
        app.initialize([lesson, f"--student={student}", "--create", "--force", "--log-level=WARN"])
        app.start()
    except SystemExit as stop:  # nbgrader exits 1 when a submission could not be graded
        if stop.code not in (0, None):
            return False, f"nbgrader autograde exited with {stop.code} (see the worker's log)"
    except Exception as err:  # noqa: BLE001 (reported for this student; the worker goes on)
        return False, f"{type(err).__name__}: {err}"
    finally:
        for handler in list(app.log.handlers):  # each app adds its own: do not pile them up
            app.log.removeHandler(handler)
    return True, ""


def main() -> int:
    lesson = sys.argv[1]
    answers = os.fdopen(os.dup(1), "w", buffering=1)  # our stdout: one JSON line per student
    os.dup2(2, 1)  # anything else printed goes to the log, not into the answers
    sys.stdout = sys.stderr
    for line in sys.stdin:
        student = line.strip()
        if not student:
            continue
        t0 = time.perf_counter()
        ok, error = grade_one(lesson, student)
        answers.write(json.dumps({"student": student, "ok": ok, "error": error,
                                  "seconds": time.perf_counter() - t0}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
