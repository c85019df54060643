"""Start one example inside a sandbox, and end it whole.

Run by the engine (never imported by the build) as

    python -I -S sandbox.py '<settings as JSON>'

with the example's allow-listed environment already in place. The settings name the
program (`argv`), its working folder, the folders it must not write (`readonly`: the
checkout), the file descriptors it keeps (`fds`: where drivers send their results), its
limits (`memory`, `file_size` in bytes, `processes`), a pids cgroup folder to join, and
where it runs: its cores (`cpus`) and its priority (`nice`; a run that measures time gets
a core of its own at normal priority, the others the lowest priority).

On Linux with user namespaces (the normal case, as root in CI or as a user on a laptop):

1. a new user, mount and PID namespace: inside, each `readonly` folder is bind-mounted
   read-only, so the checkout cannot be written whatever the example does;
2. the first child is PID 1 of the new PID namespace, with a fresh /proc (the build's
   processes, their environment and working folders are not there to see); it enters a
   second user namespace where it is an ordinary user (uid 1000), so the example has no
   capabilities and cannot undo the read-only mounts (they are locked);
3. PID 1 starts the example, reaps whatever the example leaves behind, and exits with the
   example's status when the example ends: the kernel then kills every process still in
   the namespace, including ones that started a new session or redirected their output.

Where namespaces are refused, the sandbox falls back to a subreaper: every descendant of
the example is killed when it ends; the environment and limits still apply, but the
checkout is then protected only by the example running in a temporary folder. The first
line of stderr says so (`pylive-sandbox: ...`), and the engine reports it.

Exit status: the example's own (a signal becomes 128 + its number).

Started as `sandbox.py --serve FD`, it is a launch server instead: for each request that
arrives on the socket FD (the settings as JSON, with the example's stdin, its output and
the file descriptors it keeps), a fork of the server runs the sandbox as above and reports
on the request's own reply socket its process id, then its exit status and the CPU seconds
of the example and every process it started. An example then
costs a fork instead of the start of an interpreter that imports ctypes (about 25 ms of
CPU less per example, a third of a small example's cost).
Standard library only; Python 3.11 or later.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
EXAMPLE_UID = 1000  # what the example sees as its user id

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), None), f"mount {target}")


def _map_user(inside: int, outside: int, gid_inside: int, gid_outside: int) -> None:
    with open("/proc/self/setgroups", "w") as setgroups:
        setgroups.write("deny")
    with open("/proc/self/uid_map", "w") as uid_map:
        uid_map.write(f"{inside} {outside} 1")
    with open("/proc/self/gid_map", "w") as gid_map:
        gid_map.write(f"{gid_inside} {gid_outside} 1")


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _join_cgroup(folder: str | None) -> None:
    if folder:
        try:
            with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        except OSError:
            pass  # the engine made the folder; if it is gone, the rlimits still hold


def _limit(settings: dict) -> None:
    """Limits of the example's own process (inherited by its children)."""
    for name, value in (("RLIMIT_AS", settings["memory"]), ("RLIMIT_FSIZE", settings["file_size"])):
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _start_example(settings: dict) -> int:
    """Fork the example; return its pid. The child never returns."""
    pid = os.fork()
    if pid == 0:
        try:
            # A process group of its own, for the fallback's clean-up, but not a session of
            # its own: Linux schedules each session as a group (autogroup) that shares a core
            # with other groups before nice counts, and the example would take half the
            # timing run's core at the lowest priority.
            os.setpgid(0, 0)
            _limit(settings)
            os.chdir(settings["cwd"])
            for fd in settings["fds"]:
                os.set_inheritable(fd, True)
            for number in (signal.SIGPIPE, signal.SIGINT):  # the example gets Python's usual handling
                signal.signal(number, signal.SIG_DFL)
            if "env" in settings:
                os.execve(settings["argv"][0], settings["argv"], settings["env"])
            os.execv(settings["argv"][0], settings["argv"])
        except BaseException as error:  # noqa: BLE001 - report and leave the child
            os.write(2, f"pylive-sandbox: cannot start {settings['argv'][0]}: {error}\n".encode())
        os._exit(127)
    return pid


def _reap_until(example: int) -> int:
    """Reap every child (orphans are re-parented to us) until the example ends."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 127
        if pid == example:
            return _exit_code(status)


def _kill_descendants() -> None:
    """Subreaper fallback: kill what the example left behind, until nothing is left."""
    while True:
        children = set()
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as listed:
                    children.update(int(pid) for pid in listed.read().split())
            except OSError:
                pass
        if not children:
            return
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _isolate(readonly: list[str]) -> None:
    """New user, mount and PID namespaces, with `readonly` folders mounted read-only."""
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    _map_user(0, uid, 0, gid)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for folder in readonly:
        _mount(folder, folder, None, MS_BIND | MS_REC)
        # A remount must keep the flags the original mount is locked with.
        kept = os.statvfs(folder).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _mount(None, folder, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _pid_one(settings: dict) -> None:
    """PID 1 of the new namespace: a fresh /proc, no capabilities, then the example."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    _map_user(EXAMPLE_UID, 0, EXAMPLE_UID, 0)
    os._exit(_reap_until(_start_example(settings)))


def main(settings: dict) -> int:
    # An interrupt is for the example (a Jupyter kernel is interrupted so); the sandbox's own
    # processes only pass on the end of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _join_cgroup(settings.get("cgroup"))
    if settings.get("cpus"):
        os.sched_setaffinity(0, settings["cpus"])
    if settings.get("nice"):
        os.setpriority(os.PRIO_PROCESS, 0, settings["nice"])
    # The engine ends a hung example with SIGTERM to this process: end the namespace.
    child = 0

    def end(signum: int, frame: object) -> None:
        if child:
            os.kill(child, signal.SIGKILL)

    signal.signal(signal.SIGTERM, end)
    try:
        _isolate(settings["readonly"])
    except OSError as error:
        os.write(2, f"pylive-sandbox: no namespaces ({error}); the checkout is not write-protected\n".encode())
        _check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl")
        child = _start_example(settings)
        code = _reap_until(child)
        _kill_descendants()
        return code
    child = os.fork()
    if child == 0:
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _pid_one(settings)
        except BaseException as error:  # noqa: BLE001
            os.write(2, f"pylive-sandbox: {error}\n".encode())
        os._exit(127)
    _, status = os.waitpid(child, 0)
    return _exit_code(status)


def serve(control: socket.socket) -> None:
    """Launch a sandbox for each request on `control`, until the engine closes its end."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # each launcher reports its own status
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 16)
        except OSError:
            return
        if not message:
            return
        if os.fork() == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _launch(json.loads(message), fds)
        for fd in fds:
            os.close(fd)


def _launch(settings: dict, fds: list[int]) -> None:
    """In a fork of the server: take the request's file descriptors, say who runs it, run
    the sandbox, and report its exit status. Never returns."""
    code, reply = 127, -1
    try:
        # Its own process group, which the engine ends as it ends a launcher; still in the
        # server's session, so that its nice counts against the timing runs (see _start_example).
        os.setpgid(0, 0)
        # Out of the way first: the numbers the example expects may be those they came in on,
        # and none of them may be where the reply goes (its pid would land in a driver's results).
        lowest = max([63, *settings["fds"]]) + 1
        reply, stdin, output, *kept = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest) for fd in fds)
        for fd in fds:
            os.close(fd)
        for source, target in ((stdin, 0), (output, 1), (output, 2), *zip(kept, settings["fds"])):
            os.dup2(source, target)
        os.write(reply, f"{os.getpid()}\n".encode())
        code = main(settings)
    except BaseException as error:  # noqa: BLE001 - report and leave the fork
        os.write(2, f"pylive-sandbox: {error}\n".encode())
    # The CPU time of every process the sandbox waited for: the example, what it started,
    # what it left behind (each is counted in the one that waited for it, up to here).
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        os.write(reply, f"{code} {usage.ru_utime + usage.ru_stime:.6f}\n".encode())
    except OSError:
        pass
    os._exit(code)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(socket.socket(fileno=int(sys.argv[2])))
    else:
        sys.exit(main(json.loads(sys.argv[1])))
