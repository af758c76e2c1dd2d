"""``reenact serve``: one process that has loaded torch, OpenCV, mediapipe and the compiled
kernels once, and runs each ``reenact animate`` in a copy of itself (``os.fork``), so a command
skips the two seconds of start-up. The copy gets the command's own standard streams (passed over
the socket), working folder, environment, umask, niceness and cores, so it prints, writes and
fails exactly as the command would have; the command forwards Ctrl-C, SIGTERM and SIGHUP to it
and exits with its status.

A process per command, not the server's own thread: nothing one command loads or leaves behind
reaches the next, and a crash ends only that copy. The server does no work of its own between
forks (it draws no frame; its torch and OpenCV pools are one thread, the caller), so each copy
starts from a quiet process and starts its own worker threads.

This module imports only the standard library at the top: ``reenact animate`` reads it to
decide, in a few milliseconds, whether a server answers before anything heavy loads.
"""

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROTOCOL = 1
_HEADER = struct.Struct(">I")  # the length of the JSON message that follows
# Ctrl-C, SIGTERM and a closed terminal (no SIGHUP on Windows, where this module only says no)
_FORWARDED = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
ANSWER_SECONDS = 20.0  # a server that has not started the command by then is not waited for


def socket_path() -> Path:
    """$REENACT_SOCKET, else ``serve.sock`` in $REENACT_CACHE or ~/.cache/reenact."""
    if os.environ.get("REENACT_SOCKET"):
        return Path(os.environ["REENACT_SOCKET"])
    return Path(os.environ.get("REENACT_CACHE") or Path.home() / ".cache" / "reenact") / \
        "serve.sock"


def available() -> bool:
    """Unix sockets that carry file descriptors, and fork: Linux and macOS, not Windows."""
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds") and hasattr(os, "fork")


def code_identity(root: Path | None = None) -> str:
    """What a server and a command must share to give the same result: the interpreter, the
    package's source files (path, size, modification time) and its libraries' folders (whose
    times change when pip installs or removes one). A server started before an edit or an
    upgrade is then not used. About 150 ``stat`` calls, a millisecond or two."""
    root = root or Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}\0{root}".encode())
    for folder in sys.path:
        if folder.endswith(("site-packages", "dist-packages")) and os.path.isdir(folder):
            digest.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\0".encode())
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            st = os.stat(os.path.join(folder, name))
            digest.update(f"{folder}/{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _send(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    data = json.dumps(message).encode()
    head = _HEADER.pack(len(data))
    if fds:
        socket.send_fds(sock, [head], list(fds))  # the descriptors ride on the first bytes
    else:
        sock.sendall(head)
    sock.sendall(data)


def _exactly(sock: socket.socket, n: int, fds: list[int]) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        data, new_fds, _, _ = socket.recv_fds(sock, n - got, 4)
        fds += new_fds
        if not data:
            return None
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def _receive(sock: socket.socket, fds: list[int] | None = None) -> dict | None:
    """The next message, or None where the other end closed; descriptors sent with it are
    appended to ``fds``."""
    fds = [] if fds is None else fds
    head = _exactly(sock, _HEADER.size, fds)
    if head is None:
        return None
    data = _exactly(sock, _HEADER.unpack(head)[0], fds)
    return None if data is None else json.loads(data)


# --- the command's side -------------------------------------------------------------------------

def forward(argv: list[str], path: Path | None = None, identity: str | None = None
            ) -> int | None:
    """Run ``reenact ARGV`` in the server at ``path``; returns its exit status, or None where no
    server answers or it runs other code (the caller then runs the command itself)."""
    path = path or socket_path()
    if not available() or not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        cwd = os.getcwd()
        umask = os.umask(0)  # read, then put back: the new files' permissions are the command's
        os.umask(umask)
        nice = os.getpriority(os.PRIO_PROCESS, 0)  # `nice reenact animate ...` stays nice
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    except OSError:  # a socket left by a server that stopped without removing it
        sock.close()
        return None
    with sock, _standard_fds() as fds:
        sock.settimeout(ANSWER_SECONDS)
        try:
            _send(sock, {"protocol": PROTOCOL, "code": identity or code_identity(),
                         "argv": argv, "cwd": cwd, "umask": umask, "nice": nice,
                         "cores": cores, "env": dict(os.environ)}, fds)
            reply = _receive(sock)
        except OSError as exc:  # TimeoutError included: a server that hangs
            reply = {"refused": f"no answer ({exc.strerror or exc})"}
        if reply is None or "refused" in reply:
            print(f"reenact: {path}: {reply['refused'] if reply else 'the server closed'}; "
                  f"running here", file=sys.stderr)
            return None
        sock.settimeout(None)
        return _wait(sock, reply["pid"])


@contextlib.contextmanager
def _standard_fds():
    """This process's descriptors 0, 1 and 2 to pass, /dev/null for any that is closed."""
    fds, opened = [], []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            opened.append(os.open(os.devnull, os.O_RDWR))
            fds.append(opened[-1])
    try:
        yield fds
    finally:
        for fd in opened:
            os.close(fd)


def _wait(sock: socket.socket, pid: int) -> int:
    """Forward Ctrl-C, SIGTERM and SIGHUP to the server's copy ``pid`` until it ends; its exit
    status."""
    def relay(number, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)

    previous = {s: signal.signal(s, relay) for s in _FORWARDED}
    try:
        end = _receive(sock)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if end is None:
        print("reenact: the server stopped before the command ended", file=sys.stderr)
        return 1
    if "signal" in end:
        print(f"reenact: the command's process in the server ended by signal {end['signal']}",
              file=sys.stderr)
        return 128 + end["signal"]
    return end["exit"]


# --- the server's side --------------------------------------------------------------------------

def run_serve(args, main: Callable[[list[str]], int]) -> None:
    """``reenact serve``: load once, then answer commands until Ctrl-C or SIGTERM; ``main`` runs
    one command line (``reenact.cli.main``) in a copy."""
    from reenact.io import InputError

    if not available():
        raise InputError("reenact serve needs Unix sockets and fork (Linux or macOS)")
    path = Path(args.socket) if args.socket else socket_path()
    listener = _listen(path)
    ours = path.stat().st_ino
    try:
        started = time.perf_counter()
        _load()
        identity = code_identity()
        print(f"reenact: serving animate on {path} (loaded in {time.perf_counter() - started:.1f}"
              f" s; Ctrl-C stops)", file=sys.stderr, flush=True)
        _answer(listener, identity, main)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if path.stat().st_ino == ours:  # not another server's, bound there since
                path.unlink()


def _listen(path: Path) -> socket.socket:
    from reenact.io import InputError

    if len(os.fsencode(path)) > 100:  # sun_path holds 104 (macOS) to 108 (Linux) bytes
        raise InputError(f"{path}: too long for a socket's name; choose a shorter --socket")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise InputError(f"{path}: exists and is not a socket; choose another --socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left by a server that stopped without removing it
        else:
            raise InputError(f"{path}: a server already answers there")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mask = os.umask(0o177)  # the socket is this user's only (read and write for the owner)
    try:
        listener.bind(str(path))
    finally:
        os.umask(mask)
    listener.listen(16)
    return listener


def _load() -> None:
    """Import what ``animate`` runs and load the compiled kernels, then leave everything alive
    out of the garbage collector's passes in the copies (as a command's own process does)."""
    import gc

    import reenact.app.animate  # noqa: F401  (torch, OpenCV, the pipeline)
    from reenact.face.mediapipe_loader import import_mediapipe
    from reenact.render.compiled import kernels

    import_mediapipe()
    kernels()
    gc.freeze()


def _answer(listener: socket.socket, identity: str, main: Callable[[list[str]], int]) -> None:
    """Accept commands, fork a copy for each, report each copy's end to its command; a command
    that hangs up (killed) has its copy terminated."""
    running: dict[int, tuple] = {}  # copy's pid -> (its command's connection, start, argv)
    gone: set[int] = set()  # copies whose command hung up
    signal.signal(signal.SIGTERM, _stop)
    woken, wake = socket.socketpair()  # a copy's end (SIGCHLD) wakes the wait below at once
    wake.setblocking(False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake.fileno())
    try:
        while True:
            connections = [conn for pid, (conn, _, _) in running.items() if pid not in gone]
            ready, _, _ = select.select([listener, woken, *connections], [], [], 1.0)
            for sock in ready:
                if sock is woken:
                    woken.recv(64)
                elif sock is listener:
                    _accept(listener, identity, running, [woken, wake], main)
                else:  # a command hung up (killed): its copy is stopped, once
                    gone.add(pid := next(p for p, (c, _, _) in running.items() if c is sock))
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            _reap(running)
            gone &= running.keys()
    except KeyboardInterrupt:
        print("reenact: server stopped", file=sys.stderr)
    finally:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        woken.close()
        wake.close()
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        while running:
            time.sleep(0.05)
            _reap(running)


def _stop(*_) -> None:
    raise KeyboardInterrupt


def _accept(listener: socket.socket, identity: str, running: dict,
            wakers: list[socket.socket], main: Callable[[list[str]], int]) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(5)
        if not _same_user(conn):
            conn.close()
            return
        request = _receive(conn, fds)
        conn.settimeout(None)
        if request is None or request.get("protocol") != PROTOCOL or len(fds) != 3:
            conn.close()
            return
        if request["code"] != identity:
            _send(conn, {"refused": "the server runs other code than this command (reenact "
                                    "changed since it started: restart reenact serve)"})
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_copy(request, fds, [listener, conn, *wakers] +
                      [c for c, _, _ in running.values()], main, server)
        _send(conn, {"pid": pid})
        running[pid] = (conn, time.perf_counter(), request["argv"])
    except OSError:
        conn.close()
    finally:
        for fd in fds:
            os.close(fd)


def _same_user(conn: socket.socket) -> bool:
    """The connecting process runs as this user (Linux tells; elsewhere the socket's mode
    already keeps other users out)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                    struct.calcsize("3i")))
    return uid == os.getuid()


def _reap(running: dict) -> None:
    """Tell each command whose copy has ended how it ended."""
    for pid in list(running):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            continue
        conn, started, argv = running.pop(pid)
        end = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else
               {"exit": os.waitstatus_to_exitcode(status)})
        how = f"signal {end['signal']}" if "signal" in end else f"exit {end['exit']}"
        print(f"reenact: {' '.join(argv)}: {how}, {time.perf_counter() - started:.2f} s",
              file=sys.stderr, flush=True)  # logged before the command hears it has ended
        with contextlib.suppress(OSError):
            _send(conn, end)
        conn.close()


def _terminated_with_server(server: int) -> None:
    """Linux: this copy gets SIGTERM if the server (pid ``server``) dies, killed outright, so it
    cleans up as a terminated command does rather than writing on for a command that was told
    it failed."""
    from reenact.io.workers import signalled_with_parent  # the server's copy: all loaded

    signalled_with_parent(server, signal.SIGTERM)


def _run_copy(request: dict, fds: list[int], sockets: list[socket.socket],
              main: Callable[[list[str]], int], server: int) -> None:
    """In the forked copy of the server (pid ``server``): take the command's streams, folder and
    environment, run it, exit. ``sockets``: the server's, closed here (their ends stay with the
    server)."""
    import threading


    code = 1
    try:
        signal.set_wakeup_fd(-1)
        os.setpgid(0, 0)  # Ctrl-C in the server's terminal is not the command's: the server
        # stops its copies itself, with one SIGTERM each
        _terminated_with_server(server)
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sock in sockets:
            sock.close()
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
        for fd in set(fds) - {0, 1, 2}:
            os.close(fd)
        # the command's streams, for the rest of this copy's life
        sys.stdout = open(1, "w", buffering=1, encoding=sys.stdout.encoding,  # noqa: SIM115
                          errors=sys.stdout.errors, closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding=sys.stderr.encoding,  # noqa: SIM115
                          errors="backslashreplace", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        with contextlib.suppress(OSError):  # a nicer server: its copies cannot be less nice
            os.setpriority(os.PRIO_PROCESS, 0, request["nice"])
        if request["cores"] and hasattr(os, "sched_setaffinity"):  # `taskset`
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, request["cores"])
        code = main(request["argv"])
        for t in threading.enumerate():  # as the interpreter's exit would wait for them
            if t is not threading.current_thread() and not t.daemon:
                t.join()
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:  # noqa: BLE001  (a copy must never return into the server)
        with contextlib.suppress(Exception):
            print(f"reenact: unexpected error in the server ({type(exc).__name__}): {exc}",
                  file=sys.stderr)
    finally:
        import atexit

        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # the command's (temporary folders, logging's flush)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)
