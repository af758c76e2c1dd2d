"""``reenact serve``: commands run in a loaded server give what they give run alone (pixels,
errors, exit statuses, Ctrl-C), and a command never uses a server it should not."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reenact.app import serve
from reenact.io import read_image, write_image

pytestmark = pytest.mark.skipif(not serve.available(), reason="needs Unix sockets and fork")


def test_code_identity_follows_the_source_files(tmp_path):
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "a.py"
    module.write_text("x = 1\n")
    first = serve.code_identity(tmp_path)
    assert serve.code_identity(tmp_path) == first
    (tmp_path / "pkg" / "__pycache__").mkdir()  # compiled files are not the source
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"0")
    assert serve.code_identity(tmp_path) == first
    module.write_text("x = 2\n")  # same size, another time
    os.utime(module, ns=(1, 1))
    assert serve.code_identity(tmp_path) != first
    changed = serve.code_identity(tmp_path)
    (tmp_path / "b.py").write_text("")
    assert serve.code_identity(tmp_path) != changed


def test_no_server_or_a_dead_one_means_run_here(tmp_path):
    assert serve.forward(["animate"], tmp_path / "none.sock") is None
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "dead.sock"))  # a server killed before it removed its socket
    dead.close()
    assert serve.forward(["animate"], tmp_path / "dead.sock") is None


def test_a_server_that_does_not_answer_is_not_waited_for(tmp_path, monkeypatch, capsys):
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(tmp_path / "hung.sock"))
    hung.listen(1)  # connections wait, never accepted
    monkeypatch.setattr(serve, "ANSWER_SECONDS", 0.3)
    with hung:
        assert serve.forward(["animate"], tmp_path / "hung.sock") is None
    assert capsys.readouterr().err == \
        f"reenact: {tmp_path / 'hung.sock'}: no answer (timed out); running here\n"


def _start_server(folder, **popen):
    """A real ``reenact serve`` on ``folder``/s.sock, once it answers: (process, socket, log)."""
    path, log = folder / "s.sock", folder / "serve.log"
    with open(log, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "serve", "--socket",
                              str(path)], stdout=subprocess.DEVNULL, stderr=err, **popen)
    deadline = time.monotonic() + 120
    while "serving animate" not in log.read_text():
        assert p.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return p, path, log


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``reenact serve``, its socket and its log; stopped with SIGTERM at the end."""
    p, path, log = _start_server(tmp_path_factory.mktemp("serve"))
    yield path, log, p.pid
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 0, log.read_text()
    assert not path.exists()  # its socket goes with it
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def files(tmp_path_factory, samples):
    d = tmp_path_factory.mktemp("files")
    write_image(d / "astronaut.png", samples["astronaut"])
    write_image(d / "hopper.jpg", samples["grace_hopper"])
    return d


def _command(server, *args, **kwargs):
    env = dict(os.environ, REENACT_SOCKET=str(server[0]))
    return subprocess.Popen([sys.executable, "-m", "reenact.cli", "animate", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **kwargs)


def test_a_served_command_keeps_its_umask_niceness_and_cores(server, files, tmp_path):
    """The output's permissions follow the command's umask, and the copy runs as nice as the
    command and on its cores (``nice``, ``taskset``), not as the server does."""
    cores = sorted(os.sched_getaffinity(0))[:1] if hasattr(os, "sched_getaffinity") else None

    def niced():
        os.nice(5)
        if cores:
            os.sched_setaffinity(0, cores)

    p = _command(server, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o",
                 tmp_path / "o.png", umask=0o077, preexec_fn=niced)
    start, seen = time.monotonic(), set()
    while p.poll() is None and time.monotonic() < start + 120:
        for task in _copies(server):
            seen.add((os.getpriority(os.PRIO_PROCESS, task),
                      tuple(sorted(os.sched_getaffinity(task))) if cores else None))
        time.sleep(0.02)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert (tmp_path / "o.png").stat().st_mode & 0o777 == 0o600
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert (min(base + 5, 19), tuple(cores) if cores else None) in seen, seen


def _copies(server) -> list[int]:
    """The server's children now (from Linux's /proc; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server[2]:
                found.append(int(stat.parent.name))
    return found


def _served(server, *args, cwd=None):
    p = _command(server, *args, cwd=cwd)
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def test_a_served_command_draws_what_one_run_here_draws(server, files, tmp_path):
    """Relative paths resolve in the command's folder; the same pixels as ``--no-server``; the
    server's log shows it ran the command (and not this process)."""
    code, _, err = _served(server, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                           "-o", "served.png", cwd=tmp_path)
    assert code == 0 and err.strip().endswith("wrote served.png"), err
    assert "animate -s" in server[1].read_text() and "served.png: exit 0" in \
        server[1].read_text()
    code, _, err = _served(server, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                           "-o", tmp_path / "here.png", "--no-server")
    assert code == 0, err
    assert "here.png" not in server[1].read_text()
    assert np.array_equal(read_image(tmp_path / "served.png"), read_image(tmp_path / "here.png"))


def test_a_served_error_is_the_same_line_and_status(server, files, tmp_path):
    code, out, err = _served(server, "-s", tmp_path / "missing.jpg", "-d", files / "hopper.jpg",
                             "-o", tmp_path / "o.png")
    assert (code, out) == (3, "") and err == f"reenact: error: {tmp_path / 'missing.jpg'}: " \
        "no such file\n"
    code, _, err = _served(server, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                           "-o", tmp_path / "o.txt")
    assert code == 3 and "name the output .png or .jpg" in err and err.count("\n") == 1, err


def test_a_server_running_other_code_is_not_used(server, capsys):
    assert serve.forward(["animate"], server[0], identity="an older reenact") is None
    err = capsys.readouterr().err
    assert "reenact changed since it started: restart reenact serve" in err and \
        err.endswith("running here\n"), err


def test_one_socket_one_server(server, tmp_path):
    serve_at = [sys.executable, "-m", "reenact.cli", "serve", "--socket"]
    r = subprocess.run([*serve_at, str(server[0])], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 3 and r.stderr == \
        f"reenact: error: {server[0]}: a server already answers there\n", r.stderr
    (tmp_path / "file").write_text("mine")
    r = subprocess.run([*serve_at, str(tmp_path / "file")], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 3 and "exists and is not a socket" in r.stderr, r.stderr
    assert (tmp_path / "file").read_text() == "mine"


def _started(server, files, driver, out):
    p = _command(server, "-s", files / "astronaut.png", "-d", driver, "-o", out)
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(f".{out.stem}.reenact-*.part.mp4")):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "no part file appeared"
        time.sleep(0.05)
    return p


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_a_served_command_stops_its_copy(server, files, long_driver, tmp_path, how):
    out = tmp_path / "o.mp4"
    p = _started(server, files, long_driver, out)
    p.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == (130 if how == "ctrl-c" else 143) and "Traceback" not in err, err
    assert ("interrupted" if how == "ctrl-c" else "terminated (SIGTERM)") in err
    assert list(tmp_path.iterdir()) == []


def test_a_killed_command_has_its_copy_stopped(server, files, long_driver, tmp_path):
    """SIGKILL reaches only the command; the server sees it hang up and stops its copy, which
    removes its part file."""
    out = tmp_path / "o.mp4"
    p = _started(server, files, long_driver, out)
    p.kill()
    p.communicate(timeout=60)
    deadline = time.monotonic() + 60
    while list(tmp_path.iterdir()) or "o.mp4: exit 143" not in server[1].read_text():
        assert time.monotonic() < deadline, (list(tmp_path.iterdir()), server[1].read_text())
        time.sleep(0.1)


@pytest.mark.slow  # a server of its own: about 6 s
def test_stopping_the_server_stops_its_commands_cleanly(files, long_driver, tmp_path):
    """Ctrl-C at the server: each running command's copy is terminated, cleans up, and its
    command says so and exits 143."""
    (tmp_path / "server").mkdir()
    (tmp_path / "out").mkdir()
    # its own process group, as a server started in a terminal of its own
    p, path, log = _start_server(tmp_path / "server", start_new_session=True)
    out = tmp_path / "out" / "o.mp4"
    command = _started((path, log), files, long_driver, out)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in that terminal: to its whole group
    _, err = command.communicate(timeout=60)
    assert command.returncode == 143 and "terminated (SIGTERM)" in err, err
    assert list(out.parent.iterdir()) == []
    assert p.wait(timeout=60) == 0 and "server stopped" in log.read_text(), log.read_text()
    assert not path.exists()


@pytest.mark.slow  # two servers of its own: about 8 s
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's parent-death signal")
def test_a_server_killed_outright_takes_its_commands_with_it(files, long_driver, tmp_path):
    """SIGKILL at the server: its copies are terminated (they clean up) and their commands say
    the server stopped, exit 1, rather than a copy writing on for a command that has ended."""
    (tmp_path / "server").mkdir()
    (tmp_path / "out").mkdir()
    p, path, log = _start_server(tmp_path / "server")
    out = tmp_path / "out" / "o.mp4"
    command = _started((path, log), files, long_driver, out)
    p.kill()
    p.wait(timeout=60)
    _, err = command.communicate(timeout=60)
    assert command.returncode == 1 and "the server stopped before the command ended" in err, err
    deadline = time.monotonic() + 60
    while list(out.parent.iterdir()):
        assert time.monotonic() < deadline, list(out.parent.iterdir())
        time.sleep(0.1)
    # the next server on that socket takes it over (the dead one could not remove it)
    p, path, log = _start_server(tmp_path / "server")
    p.terminate()
    assert p.wait(timeout=60) == 0
