"""Start an IPython kernel for grading one submission, fenced in.

- Limits (override with environment variables): address space
  COURSE_GRADER_MEMORY_MB (default 8192), CPU seconds COURSE_GRADER_CPU_S
  (default 900), size of any file written COURSE_GRADER_FILE_MB (default 256),
  torch threads COURSE_GRADER_THREADS (default 1; grade.py sets it to the
  cores over the workers: 1 each with 2 workers on 2 cores).
  A memory bomb gets a MemoryError, a runaway loop is killed by the CPU limit.
- When started as root on Linux: a private mount namespace in which every file
  system is read-only except the submission's own folder (the working
  directory, which also holds HOME and TMPDIR), so a submission cannot write or
  delete files elsewhere (the gradebook, other students' work, the course).
  Set COURSE_GRADER_FENCE=0 to skip it.
Then it becomes the ordinary ipykernel.
"""

import ctypes
import os
import resource
import subprocess
import sys
import tempfile

MB = 1024 * 1024


def limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else value))


def mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def fence_file_systems(workdir: str) -> bool:
    """Make every file system read-only but workdir, in a mount namespace of our own."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        return False

    def mount(*args: str) -> bool:
        return subprocess.run(["mount", *args], capture_output=True).returncode == 0

    if not (mount("--make-rprivate", "/") and mount("--bind", workdir, workdir)):
        return False
    for point in mounts():
        if point != workdir and not point.startswith(("/proc", "/sys", "/dev")):
            mount("-o", "remount,bind,ro", point)
    os.chdir(workdir)  # re-enter the folder through its writable bind mount
    return True


def main() -> None:
    env = os.environ
    limit(resource.RLIMIT_AS, int(env.get("COURSE_GRADER_MEMORY_MB", 8192)) * MB)
    cpu = int(env.get("COURSE_GRADER_CPU_S", 900))
    limit(resource.RLIMIT_CPU, cpu)
    limit(resource.RLIMIT_FSIZE, int(env.get("COURSE_GRADER_FILE_MB", 256)) * MB)
    # Scratch space inside the submission's folder: the one place left writable.
    scratch = tempfile.mkdtemp(prefix=".grader-", dir=os.getcwd())
    for var in ("HOME", "TMPDIR", "MPLCONFIGDIR", "IPYTHONDIR"):
        os.environ[var] = os.path.join(scratch, var.lower())
        os.makedirs(os.environ[var])
    # No more threads than the kernel's share of the cores: parallel workers already fill them, and
    # torch's OpenMP threads slow down many times over when they have to share a core with another kernel.
    os.environ.setdefault("OMP_NUM_THREADS", env.get("COURSE_GRADER_THREADS", "1"))
    if env.get("COURSE_GRADER_FENCE", "1") == "1":
        fence_file_systems(os.getcwd())
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[1:]])


if __name__ == "__main__":
    main()
