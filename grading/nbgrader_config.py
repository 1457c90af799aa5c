"""nbgrader configuration for the course; the course directory is the current folder.

Each lesson solutions/NN_name.ipynb is the assignment NN_name (tools/release.py
copies it to source/NN_name/ and generates release/NN_name/). A course
directory elsewhere uses this file with a one-line nbgrader_config.py:
`load_subconfig("/path/to/grading/nbgrader_config.py")`.
"""

import os
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from grading.course import GRADING, gradebook_url
from grading.guard import GuardedExecute, RestoreTests
from grading.kernel import NotebookTimeLimit

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "optim-mnist"
c.CourseDirectory.root = "."
# The gradebook: SQLite in the course directory, waiting (not failing) while a
# parallel grader writes; or a server database, e.g. for several graders:
# COURSE_GRADEBOOK_URL=postgresql://user:password@host/dbname
c.CourseDirectory.db_url = gradebook_url(Path.cwd())

# The stub students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading runs each submission in the sandbox kernel (jupyter/kernels/course-grader, see
# grading/sandbox.py): bubblewrap, a uid of its own, a copy of its folder and nothing of the
# course, limits on memory, CPU, processes, disk and the whole notebook's time. Its network is
# its own, so Jupyter reaches it over Unix sockets in a folder of its own (SandboxKernelManager).
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p for p in (str(GRADING / "jupyter"), os.environ.get("JUPYTER_PATH")) if p
)
c.Execute.kernel_name = "course-grader"
c.Execute.kernel_manager_class = "grading.kernel.SandboxKernelManager"

# Seconds a cell may run while grading: well above the slowest solution cell
# (a lesson runs in under 60 s in all), so an endless loop costs only its cell.
c.Execute.timeout = int(os.environ.get("COURSE_GRADER_TIMEOUT", 180))
c.Execute.interrupt_on_timeout = True

# nbgrader's sanitizing steps, plus putting deleted or moved test cells back (guard.py).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    RestoreTests,
    OverwriteCells,
    CheckCellMetadata,
]

# nbgrader's autograde steps, with Execute replaced by one that survives a dead
# or unstoppable kernel (see guard.py).
c.Autograde.autograde_preprocessors = [
    GuardedExecute,
    NotebookTimeLimit,  # a kernel stopped for the notebook's time limit is said to be so
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
