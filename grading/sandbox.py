"""The grading kernel's sandbox: bubblewrap (`bwrap`), an unprivileged uid, and limits.

Every submission's kernel (grading/jupyter/kernels/course-grader) runs as

    launch.py (outside, the worker's child)  ->  setpriv (as root: to a uid of its own)
        ->  bwrap --unshare-all ...  ->  inside.py (limits, its files)  ->  ipykernel

- **Who it is:** as root, the launcher takes a uid of its own for the kernel's lifetime (one of
  COURSE_GRADER_UID_SLOTS uids from COURSE_GRADER_UID_BASE, locked with a file lock, so two
  kernels graded at once never share one) and `setpriv` drops to it with no capabilities and no
  supplementary groups before `bwrap` starts; run as another user, the kernel keeps that user's
  uid. Inside, the uid maps to itself and the process has no capability (CapEff 0), no way to
  mount (`mount -o remount,rw /` fails), and no new user namespace (`--disable-userns`).
- **What it sees:** its own user, PID, mount, IPC, UTS, cgroup and network namespaces (loopback
  only); read-only: /usr (and /lib, /bin links), a few files of /etc, the Python environment
  (the venv and the interpreter it was made from), the course's `course_utils` and its MNIST
  data folder; read-write: a tmpfs of COURSE_GRADER_DISK_MB (HOME, TMPDIR, MPLCONFIGDIR,
  IPYTHONDIR, and `/sandbox/work`, the kernel's working folder: a copy of the submission's
  folder without its notebooks, which hold the tests still to run), a 64 MiB /dev/shm, and the
  folder of the kernel's Jupyter sockets. Nothing else: not the course directory (source/,
  release/, the gradebook, other students, autograded/), not the worker's scratch, not /tmp,
  /root or /home of the machine.
- **How Jupyter reaches it:** with no network shared, the kernel listens on Unix sockets
  (`transport: ipc`) in a private folder that `SandboxKernelManager` makes per kernel and the
  sandbox binds. Once the kernel has bound its five sockets (inside.py tells the launcher
  through a pipe, before any cell runs), the launcher (root) takes the folder back, so the
  kernel can no longer create files there.
- **Limits:** address space COURSE_GRADER_MEMORY_MB, CPU seconds COURSE_GRADER_CPU_S, size of
  a file COURSE_GRADER_FILE_MB (each per process), processes and threads
  COURSE_GRADER_PROCESSES (RLIMIT_NPROC, set inside the sandbox's own user namespace, so it
  counts the sandbox's tasks only), disk COURSE_GRADER_DISK_MB (the tmpfs), and wall-clock
  time for the whole notebook COURSE_GRADER_NOTEBOOK_S: the launcher kills the sandbox when it
  is spent and exits with NOTEBOOK_TIMEOUT_EXIT, leaving the reason beside the connection file
  (`stop_reason`). Each cell keeps nbgrader's own timeout (COURSE_GRADER_TIMEOUT).
- **Nothing outlives it:** the kernel runs in a PID namespace whose PID 1 is bwrap (as root, the
  inner one, so that the kernel's CPU time reaches the grader's RUSAGE_CHILDREN); when the
  kernel ends, is killed, or its launcher dies (`--die-with-parent`), the namespace and every
  process in it (a `setsid` daemon included) are gone. The launcher stops the sandbox when the
  grading process that started it is gone, and as root then kills whatever still runs as the
  kernel's uid and waits until nothing does, before the uid is handed to the next kernel. Where
  the launcher itself is killed outright (jupyter_client's SIGKILL to a kernel that does not shut
  down), the kernel manager (grading/kernel.py) clears the uid once the launcher is gone, and the
  next kernel to take the uid clears it first.

Where the machine cannot run bwrap (not installed, or user namespaces disabled) grading stops
with what to enable (`require`); COURSE_GRADER_SANDBOX=off runs kernels unprotected, for
developers on such machines only, never for real submissions.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent / "jupyter" / "kernels" / "course-grader"
ROOT = Path(__file__).resolve().parents[1]  # the course repository: course_utils/, data/
MB = 1024 * 1024
NOTEBOOK_TIMEOUT_EXIT = 124  # the launcher's exit status when the notebook's time is spent
SCRATCH = "/sandbox"  # the tmpfs inside: work/ (the kernel's folder), home/, tmp/
INSIDE = "/run/course-grader"  # inside.py and the connection file, read-only
SHM_MB = 64
DEFAULTS = {
    "COURSE_GRADER_MEMORY_MB": 8192,
    "COURSE_GRADER_CPU_S": 900,
    "COURSE_GRADER_FILE_MB": 256,
    "COURSE_GRADER_DISK_MB": 256,
    "COURSE_GRADER_PROCESSES": 256,
    "COURSE_GRADER_NOTEBOOK_S": 600,
    "COURSE_GRADER_UID_BASE": 2_000_000_000,
    "COURSE_GRADER_UID_SLOTS": 1000,
}
# What reaches the kernel's environment from the worker's (nothing else does: no gradebook
# address, no credentials).
PASSED = ("NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LANG")

HOW_TO_ENABLE = """\
Grading runs every submission in a bubblewrap sandbox (grading/sandbox.py), and this machine
cannot start one, so nothing was graded. To enable it:
  - install bubblewrap: `apt-get install bubblewrap` (`make system-deps` does it, as root);
  - allow unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000` if it is 0,
    `sysctl -w kernel.unprivileged_userns_clone=1` on older Debian kernels, and on Ubuntu 23.10+
    `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for bwrap);
  - in a container: allow unshare/clone with CLONE_NEWUSER (e.g. Docker's
    `--security-opt seccomp=unconfined`, or a VM per grading machine).
For development on a machine that cannot, COURSE_GRADER_SANDBOX=off grades without the
sandbox: never do that with real submissions."""


class SandboxUnavailable(RuntimeError):
    """This machine cannot start the grading sandbox; the message says what to enable."""


def setting(name: str, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    return int(env.get(name) or DEFAULTS[name])


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """False only with COURSE_GRADER_SANDBOX=off (developers' machines without user namespaces)."""
    env = os.environ if env is None else env
    return env.get("COURSE_GRADER_SANDBOX", "on").lower() != "off"


def bwrap() -> str:
    """bubblewrap's executable: COURSE_GRADER_BWRAP, else bwrap on PATH or in /usr/bin."""
    if os.environ.get("COURSE_GRADER_BWRAP"):
        return os.environ["COURSE_GRADER_BWRAP"]
    found = shutil.which("bwrap") or next(
        (p for p in ("/usr/bin/bwrap", "/usr/local/bin/bwrap") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed.\n{HOW_TO_ENABLE}")
    return found


# --------------------------------------------------------------------------- the grader's side


_stops: list[str] = []  # why the launcher stopped this process's last kernel (grading/kernel.py)


def stop_reason(km) -> str | None:
    """Why the launcher stopped the kernel, in words ("the notebook time limit (600 s)"), or
    None if it did not (the kernel died by itself: os._exit, a crash, a per-process limit)."""
    path = getattr(km, "connection_file", None)
    if not path:
        return None
    try:
        with open(path + ".stopped", encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


@lru_cache(maxsize=1)
def _probe() -> str | None:
    """None if a sandbox starts here and runs this Python; else what went wrong."""
    if not enabled():
        return None
    lock = -1
    try:
        uid, lock = take_uid() if os.geteuid() == 0 else (None, -1)
        argv, close = sandbox_command(uid, None, None, ["-c", "import json"])
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, pass_fds=close)
        finally:
            for fd in close:
                os.close(fd)
    except SandboxUnavailable as err:
        return str(err)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap could not run: {err}\n{HOW_TO_ENABLE}"
    finally:
        if lock >= 0:
            os.close(lock)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()[-1500:]
        return f"bwrap failed to start a sandbox: {said}\n{HOW_TO_ENABLE}"
    return None


def require() -> None:
    """Raise SandboxUnavailable, saying what to enable, when this machine cannot sandbox kernels."""
    problem = _probe()
    if problem:
        raise SandboxUnavailable(problem)


def check() -> str | None:
    """require() as a value (for dask's client.run on every worker): None, or the message."""
    return _probe()


# --------------------------------------------------------------------------- the launcher's side


def sandbox_command(
    uid: int | None,
    ipc_dir: str | None,
    connection: bytes | None,
    inside: list[str],
    env: Mapping[str, str] | None = None,
) -> tuple[list[str], list[int]]:
    """The command that runs `python INSIDE...` in the sandbox, and the fds it must inherit
    (the caller closes them once it started).

    `uid` None: this user's own bwrap, unprivileged (user namespaces), as the user's uid.
    `uid` given (we are root): bwrap as root builds the sandbox (it may read what only root can
    reach, such as a Python under /root), `setpriv` drops to `uid` with no capabilities, and a
    second, unprivileged bwrap gives that uid its own user namespace (mapping only itself) in
    which no further user namespace can be made.
    """
    env = os.environ if env is None else env
    fds: list[int] = []

    def data(content: bytes) -> str:
        r, w = os.pipe()
        os.write(w, content)  # small: fits a pipe's buffer
        os.close(w)
        fds.append(r)
        return str(r)

    me = uid if uid is not None else os.getuid()
    gid = uid if uid is not None else os.getgid()
    args = [bwrap(), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try"]
    if uid is None:
        args += ["--unshare-user", "--disable-userns", "--uid", str(me), "--gid", str(gid)]
    else:
        # The inner bwrap is PID 1 (it reaps orphans, and its end ends the namespace): the outer
        # one then waits for it, so the kernel's CPU time reaches the grader (RUSAGE_CHILDREN),
        # which bwrap's own init, reporting the exit through an eventfd, would lose.
        args += ["--as-pid-1"]
    args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    made = {"/"}

    def parents(path: str) -> list[str]:  # the folders on the way, world-readable
        out = []
        for up in reversed(Path(path).parents):
            if str(up) not in made:
                made.add(str(up))
                out += ["--perms", "0755", "--dir", str(up)]
        return out

    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", "/usr", "/usr"]
    args += parents("/etc/x")
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    passwd = f"student:x:{me}:{gid}:student:{SCRATCH}/home:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
    args += ["--perms", "0444", "--ro-bind-data", data(passwd.encode()), "/etc/passwd"]
    args += ["--perms", "0444", "--ro-bind-data", data(f"student:x:{gid}:\n".encode()), "/etc/group"]
    data_dir = _data_dir(env)
    shared = [*_python_paths(), str(ROOT / "course_utils"), *([str(data_dir)] if data_dir.is_dir() else [])]
    for path in shared:
        args += [*parents(path), "--ro-bind", path, path]
    cpus = "/sys/devices/system/cpu"  # what torch's cpuinfo reads
    if os.path.isdir(cpus):
        args += [*parents(cpus), "--ro-bind", cpus, cpus]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SHM_MB * MB), "--perms", "1777", "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    disk = setting("COURSE_GRADER_DISK_MB", env) * MB
    args += ["--size", str(disk), "--perms", "1777", "--tmpfs", SCRATCH]  # inside.py makes its folders
    args += ["--perms", "0755", "--dir", "/tmp"]  # read-only (TMPDIR is in the scratch)
    args += [*parents(f"{INSIDE}/x"), "--ro-bind", str(KERNEL_DIR / "inside.py"), f"{INSIDE}/inside.py"]
    if connection is not None:
        args += ["--perms", "0444", "--ro-bind-data", data(connection), f"{INSIDE}/connection.json"]
    if ipc_dir is not None:
        args += [*parents(ipc_dir), "--bind", ipc_dir, ipc_dir]
    args += ["--remount-ro", "/", "--clearenv"]
    home = f"{SCRATCH}/home"
    inner_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "TMPDIR": f"{SCRATCH}/tmp",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "COURSE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),  # course_utils from beside this grading package (bound above)
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "COURSE_GRADER_WORKER_PID": str(os.getppid()),  # who graded whom (the tests read it)
    }
    inner_env.update({k: env[k] for k in PASSED if env.get(k)})
    inner_env.setdefault("OMP_NUM_THREADS", env.get("COURSE_GRADER_THREADS", "1"))
    for key, value in inner_env.items():
        args += ["--setenv", key, value]
    args.append("--")
    if uid is not None:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        args += [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            bwrap(),
            "--unshare-user",
            "--disable-userns",
            "--uid",
            str(uid),
            "--gid",
            str(uid),
            "--die-with-parent",
            "--new-session",
            "--dev-bind",  # the devices the outer one made (null, zero, random, ...; pts)
            "/",
            "/",
            "--",
        ]
    return [*args, sys.executable, "-s", *inside], fds


def _python_paths() -> list[str]:
    """The Python environment, to bind read-only: the venv and the installation it was made from."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    paths.add(sys.prefix)  # the venv's own path (its bin/python is what runs inside)
    return sorted(p for p in paths if p not in ("/", "/usr") and os.path.isdir(p))


def _data_dir(env) -> Path:
    if env.get("COURSE_DATA_DIR"):
        return Path(env["COURSE_DATA_DIR"]).expanduser().resolve()
    return ROOT / "data"


class _ignoring:
    def __init__(self, *errors):
        self.errors = errors

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        return kind is not None and issubclass(kind, self.errors)


def _slot_dir() -> Path:
    """Where the uid slots' lock files live: a folder of root's, 0700, not a link."""
    path = Path(tempfile.gettempdir()) / "course-grader-uids"
    with _ignoring(FileExistsError):
        os.mkdir(path, 0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise SandboxUnavailable(f"{path} must be a folder of uid {os.geteuid()} with mode 0700")
    return path


def take_uid() -> tuple[int, int]:
    """A uid no other grading kernel of this machine holds, and the lock fd that holds it."""
    base, slots = setting("COURSE_GRADER_UID_BASE"), setting("COURSE_GRADER_UID_SLOTS")
    start = os.getpid() % slots
    for i in range(slots):
        uid = base + (start + i) % slots
        fd = take_uid_if_free(uid)
        if fd >= 0:
            clear_uid(uid)  # a launcher killed outright (SIGKILL) could not clear its own
            return uid, fd
    raise SandboxUnavailable(f"all {slots} sandbox uids are in use (COURSE_GRADER_UID_SLOTS)")


def take_uid_if_free(uid: int) -> int:
    """The lock fd of `uid`'s slot if no kernel holds it now, else -1."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(_slot_dir() / f"{uid}.lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return -1
    return fd


def live_processes() -> dict[int, int]:
    """pid -> uid of every live process of this machine, from one pass over /proc. A zombie is
    not one: it has exited, holds no memory or file and runs no code, and the one that reaps it
    may be the machine's init (a killed launcher's bwrap is reparented there), which in a
    container can take a second."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if line.startswith(("State:", "Uid:")))
        except (OSError, ValueError):
            continue
        if "Uid" not in fields or fields.get("State", "").split()[:1] in (["Z"], ["X"]):
            continue
        found[int(name)] = int(fields["Uid"].split()[0])
    return found


def processes_of(uid: int) -> list[int]:
    """The pids of live processes running as `uid` (see live_processes)."""
    return [pid for pid, owner in live_processes().items() if owner == uid]


def clear_uid(uid: int, wait: float = 10.0) -> bool:
    """Kill every process of `uid` and wait until none is left: a SIGKILL is delivered at once but
    a process takes a moment to exit and be reaped, and the uid must be empty before its slot is
    handed on (or grading is said to be over). False if some survived `wait` seconds."""
    deadline = time.monotonic() + wait
    while processes_of(uid):
        if time.monotonic() > deadline:
            print(f"course-grader: processes of sandbox uid {uid} survived SIGKILL", file=sys.stderr)
            return False
        kill_uid(uid)
        time.sleep(0.02)
    return True


def kill_uid(uid: int) -> None:
    """Kill every process running as `uid` (a forked child drops to it and signals -1)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def pack_folder(folder: str, limit: int) -> int:
    """An fd (a memfd) holding a tar of the folder's regular files but its notebooks, up to
    `limit` bytes in all: what the kernel's working folder starts with."""
    fd = os.memfd_create("submission", 0)
    total = 0
    # nbgrader starts the kernel in the submission's working folder; never copy a course directory
    # (its source/ and gradebook) should a kernel be started anywhere else.
    marks = ("gradebook.db", "source", "submitted", "nbgrader_config.py")
    course_like = any(os.path.lexists(os.path.join(folder, n)) for n in marks)
    with os.fdopen(os.dup(fd), "wb") as f, tarfile.open(fileobj=f, mode="w|") as tar:
        for here, dirs, files in [] if course_like else os.walk(folder):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(here, d))]
            for name in sorted(files):
                path = os.path.join(here, name)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or name.endswith(".ipynb") or total + st.st_size > limit:
                    continue
                total += st.st_size
                tar.add(path, arcname=os.path.relpath(path, folder), recursive=False)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _private_ipc_dir(info: dict) -> str:
    """The folder of the kernel's sockets, which must be SandboxKernelManager's: ours, 0700."""
    if info.get("transport") != "ipc":
        raise SandboxUnavailable(
            "the grading kernel listens on Unix sockets (its network is its own): start it with "
            "grading.kernel.SandboxKernelManager (nbgrader_config.py does), not on transport "
            f"{info.get('transport')!r}"
        )
    folder = os.path.dirname(info["ip"])
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise SandboxUnavailable(f"{folder}: not a private folder of this user for the kernel's sockets")
    return folder


def _write_beside(connection_file: str, suffix: str, text: str) -> None:
    with _ignoring(OSError):
        fd = os.open(connection_file + suffix, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)


def _write_reason(connection_file: str, reason: str) -> None:
    _write_beside(connection_file, ".stopped", reason)


def launch(argv: list[str]) -> int:
    """launch.py: start the kernel of `-f CONNECTION_FILE` in the sandbox, and watch it."""
    connection_file = argv[argv.index("-f") + 1]
    env = os.environ
    if not enabled(env):
        return _unsandboxed(connection_file)
    with open(connection_file, "rb") as f:
        connection = f.read()
    info = json.loads(connection)
    try:
        ipc_dir = _private_ipc_dir(info)
        root = os.geteuid() == 0
        uid, lock = take_uid() if root else (None, -1)
    except SandboxUnavailable as err:
        print(f"course-grader: {err}", file=sys.stderr)
        return 1
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    files = pack_folder(os.getcwd(), setting("COURSE_GRADER_DISK_MB", env) * MB // 2)
    limits = {
        "as": setting("COURSE_GRADER_MEMORY_MB", env) * MB,
        "cpu": setting("COURSE_GRADER_CPU_S", env),
        "fsize": setting("COURSE_GRADER_FILE_MB", env) * MB,
        "nproc": setting("COURSE_GRADER_PROCESSES", env),
    }
    inside = [
        f"{INSIDE}/inside.py",
        json.dumps({"ready": ready_w, "go": go_r, "files": files, "limits": limits}),
        f"{INSIDE}/connection.json",
    ]
    proc = None
    try:
        if uid is not None:
            _write_beside(connection_file, ".uid", str(uid))  # SandboxKernelManager clears it after
            os.chown(ipc_dir, uid, uid)
        argv_, fds = sandbox_command(uid, ipc_dir, connection, inside, env)
        # The kernel's interrupts come as messages (kernel.json): a SIGINT to this process group
        # is not for it. A handler, not SIG_IGN, so that the sandbox does not inherit it.
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, _terminated)
        proc = subprocess.Popen(argv_, pass_fds=[*fds, ready_w, go_r, files])
        for fd in (*fds, ready_w, go_r, files):
            os.close(fd)
        return _watch(proc, ready_r, go_w, ipc_dir, uid, connection_file, env)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if uid is not None:
            clear_uid(uid)
            os.close(lock)


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # the finally of launch() kills the sandbox


def _watch(proc, ready_r: int, go_w: int, ipc_dir: str, uid, connection_file: str, env) -> int:
    """Hand the socket folder back to root once the kernel is listening, then wait for the kernel,
    killing the sandbox when the notebook's time is spent or the grading process is gone."""
    import select

    limit = setting("COURSE_GRADER_NOTEBOOK_S", env)
    deadline = time.monotonic() + limit
    parent = os.getppid()
    while proc.poll() is None and time.monotonic() < deadline and os.getppid() == parent:
        ready, _, _ = select.select([ready_r], [], [], 0.5)
        if ready:
            if os.read(ready_r, 1) and uid is not None:
                os.chown(ipc_dir, os.geteuid(), os.getegid())  # the kernel can add no file there now
                os.chmod(ipc_dir, 0o711)
            with _ignoring(OSError):
                os.write(go_w, b"!")
            break
    os.close(ready_r)
    os.close(go_w)
    while time.monotonic() < deadline:
        try:
            return proc.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the grading worker is gone (killed, its machine lost)
                print("course-grader: the grading process is gone: the kernel was stopped", file=sys.stderr)
                return 1  # launch() kills the sandbox
    if proc.poll() is not None:
        return proc.returncode
    _write_reason(connection_file, f"the notebook time limit ({limit} s for the whole notebook)")
    print(
        f"course-grader: the notebook ran out of its time limit ({limit} s, COURSE_GRADER_NOTEBOOK_S): "
        "the kernel was stopped",
        file=sys.stderr,
    )
    proc.kill()
    proc.wait()
    return NOTEBOOK_TIMEOUT_EXIT


def _unsandboxed(connection_file: str) -> int:
    """COURSE_GRADER_SANDBOX=off: the per-process limits only, in this process, then ipykernel."""
    import resource

    print("course-grader: WARNING: COURSE_GRADER_SANDBOX=off, this kernel is not sandboxed", file=sys.stderr)
    for which, name, scale in (
        (resource.RLIMIT_AS, "COURSE_GRADER_MEMORY_MB", MB),
        (resource.RLIMIT_CPU, "COURSE_GRADER_CPU_S", 1),
        (resource.RLIMIT_FSIZE, "COURSE_GRADER_FILE_MB", MB),
    ):
        value = setting(name) * scale
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
    os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("COURSE_GRADER_THREADS", "1"))
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
    return errno.EIO  # not reached
