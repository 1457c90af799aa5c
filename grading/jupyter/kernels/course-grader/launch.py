"""Start an IPython kernel for grading one submission, in the sandbox of grading/sandbox.py.

Run by jupyter_client (kernel.json) in the grading worker, outside the sandbox: it takes a uid
of its own (as root), starts `bwrap` with the limits (COURSE_GRADER_MEMORY_MB, _CPU_S, _FILE_MB,
_DISK_MB, _PROCESSES, _NOTEBOOK_S, _THREADS) and stays as the kernel's parent until it ends,
killing the sandbox when the notebook's time is spent. inside.py runs in the sandbox.
"""

import sys

from grading.sandbox import launch

if __name__ == "__main__":
    sys.exit(launch(sys.argv[1:]))
