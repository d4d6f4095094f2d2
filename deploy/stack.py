"""Run a local production-like stack: N ``leafcube serve`` workers behind one nginx.

Every process runs in its own process group; Ctrl-C or SIGTERM stops them all (nginx
gracefully first, so requests in flight finish). A worker that dies is restarted,
while nginx sends its requests to the others; an nginx master that dies is restarted
too, once the workers it orphaned have been stopped (they would hold its port).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from leafcube.deploy import DeployError

#: How long a process may take to stop before it is killed.
STOP_TIMEOUT = 10.0
#: An nginx that dies again within this many seconds of a restart is not restarted
#: again (it cannot stay up: a broken configuration, a port taken).
NGINX_MIN_UPTIME = 1.0
#: prctl(2) option: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1


def wait_listening(host: str, port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once ``host:port`` accepts connections; raise if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DeployError(
                f"the process meant to listen on {host}:{port} exited with status "
                f"{proc.returncode} (is the port free?)"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise DeployError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def check_free(host: str, port: int) -> None:
    """Raise a clear error when ``host:port`` is taken, rather than start a doomed server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            s.bind((host, port))
        except OSError:
            raise DeployError(f"port {port} on {host} is in use: choose another") from None


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, even by SIGKILL (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(cmd: list[str]) -> subprocess.Popen:
    """Start ``cmd`` in its own process group, tied to this process's life."""
    try:
        return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent)
    except OSError as exc:
        raise DeployError(f"cannot start {cmd[0]}: {exc.strerror}") from None


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still runs."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the process group of ``proc``, then SIGKILL what lingers. The group
    is signalled even when ``proc`` itself has died: nginx's workers outlive a master
    killed by SIGKILL, and would keep its port."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    deadline = time.monotonic() + STOP_TIMEOUT
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # orphans are not our children: no event tells when they exit
    if group_alive(proc.pid) or proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Worker:
    """One ``leafcube serve`` process on 127.0.0.1:port."""

    cube: Path
    port: int
    run_dir: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"worker-{self.port}.pid"

    def start(self) -> None:
        """Start the worker and record its pid in ``run/worker-PORT.pid``."""
        cmd = [sys.executable, "-m", "leafcube.cli.main", "serve", str(self.cube)]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = spawn(cmd)
        self.started = time.monotonic()
        self.pid_file.write_text(f"{self.proc.pid}\n")

    @property
    def running(self) -> subprocess.Popen:
        """The process :meth:`start` started."""
        if self.proc is None:
            raise DeployError(f"the worker on port {self.port} was never started")
        return self.proc


@dataclass
class Stack:
    """nginx plus its local workers; use as a context manager so everything stops.

    ``listen`` is where to check that nginx answers, ``bind`` the address it binds.
    """

    nginx_cmd: list[str]
    listen: tuple[str, int]
    bind: tuple[str, int]
    workers: list[Worker] = field(default_factory=list)
    nginx: subprocess.Popen | None = None

    def __enter__(self) -> Stack:
        for w in self.workers:
            check_free("127.0.0.1", w.port)
        check_free(*self.bind)
        try:
            for w in self.workers:
                w.start()
            for w in self.workers:
                wait_listening("127.0.0.1", w.port, w.running)
            self.nginx = spawn(self.nginx_cmd)
            wait_listening(*self.listen, self.nginx, timeout=15)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop nginx gracefully (SIGQUIT), then the workers; remove their pid files."""
        if self.nginx is not None:
            stop(self.nginx, signal.SIGQUIT)
        for w in self.workers:
            if w.proc is not None:
                stop(w.proc)
            w.pid_file.unlink(missing_ok=True)

    def supervise(self, poll: float = 0.5) -> int:
        """Watch the processes until a signal; restart workers that die, and nginx (its
        orphaned workers stopped first) unless it dies within seconds of its start."""
        nginx = self.nginx
        if nginx is None:
            raise DeployError("the stack is not running: supervise it inside `with stack:`")
        stopping: list[int] = []
        restarted = -NGINX_MIN_UPTIME  # the first death is always worth a restart

        def on_signal(signum: int, _frame: object) -> None:
            stopping.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stopping:
                if nginx.poll() is not None:
                    ran = time.monotonic() - restarted
                    print(f"leafcube deploy: nginx exited ({nginx.returncode})", file=sys.stderr)
                    stop(nginx)  # its orphaned workers hold the port
                    if ran < NGINX_MIN_UPTIME:  # a restart that did not stay up: it would spin
                        return 1
                    print("leafcube deploy: restarting nginx", file=sys.stderr)
                    nginx = self.nginx = spawn(self.nginx_cmd)
                    wait_listening(*self.listen, nginx, timeout=15)
                    restarted = time.monotonic()
                for w in self.workers:
                    # At most one restart a second, so a worker that cannot start doesn't spin.
                    proc = w.running
                    if proc.poll() is not None and time.monotonic() - w.started > 1.0:
                        print(
                            f"leafcube deploy: worker on port {w.port} exited "
                            f"({proc.returncode}); restarting it",
                            file=sys.stderr,
                        )
                        w.start()
                time.sleep(poll)
            return 0
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
