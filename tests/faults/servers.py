"""Private PostgreSQL and MariaDB servers that a test may kill and restart.

The shared servers (PostgreSQL on 5432, MariaDB on 3306) serve every other test and
other people's runs at the same time, so the fault tests never touch them: each
server here gets its own data directory under a temporary folder, a free port on
127.0.0.1 and its own socket, and runs as a child of the test process::

    server = PostgresServer()
    server.start()        # initdb on first use, then the postmaster
    ... server.url ...    # postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres
    server.kill()         # what a crash does: no shutdown checkpoint, clients cut off
    server.start()        # crash recovery on the same data directory and port
    server.stop()         # fast shutdown, data directory removed

Both run with settings that keep a process crash faithful and start-up fast: commits
still reach the kernel before they are acknowledged (PostgreSQL ``synchronous_commit``
on, InnoDB writing its log at each commit), only the ``fsync`` to the disk is skipped
(``fsync=off``, ``innodb_flush_log_at_trx_commit=2``): a killed process leaves the
kernel's page cache intact, the machine itself does not crash here, and two shared
cores would otherwise spend the test waiting on the disk.

The server process is started directly (not daemonized by ``pg_ctl start``), with
Linux's parent-death signal set, so a test process that dies without running its
fixture finalizers takes its servers with it instead of leaving them on their ports.

Anything that goes wrong raises :class:`ServerError` with the command and the tail of
the server's log, so that the fixture can fail the test with a message that says why.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path

#: seconds a server may take to accept connections (fresh or after crash recovery)
READY_TIMEOUT = 30.0

_PR_SET_PDEATHSIG = 1
# looked up here, in the parent: the child between fork and exec only calls it
_prctl = getattr(ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True), "prctl", None)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL this server when the test process exits
    (Linux's prctl; elsewhere the fixtures' finalizers are all there is).

    Runs after Popen's setuid, which would clear the setting if it came first."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerError(RuntimeError):
    """A private server could not be set up, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class PrivateServer(ABC):
    """One database server of the test's own: data directory, port, process."""

    #: short name used in messages and directory names
    name = "server"
    #: whether the server runs but refuses connections (only PostgreSQL can be asked to)
    refusing = False

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"flash_db_faults_{self.name}_"))
        self.log = self.root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._initialized = False
        #: seconds per step: "init" once, then one "start" per (re)start
        self.timings: list[tuple[str, float]] = []
        # As root the server runs as its own OS user (PostgreSQL refuses root); the
        # directory is theirs so that it can write the data and the socket.
        self.os_user = self._os_user() if os.geteuid() == 0 else None
        if self.os_user is not None:
            try:
                entry = pwd.getpwnam(self.os_user)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise ServerError(
                    f"no OS user {self.os_user!r} to run {self.name} as (running as root); "
                    "it comes with the server package"
                ) from None
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    @abstractmethod
    def url(self) -> str:
        """The SQLAlchemy URL of the server's test database."""

    @abstractmethod
    def _os_user(self) -> str: ...

    @abstractmethod
    def _init_command(self) -> list[str]: ...

    @abstractmethod
    def _server_command(self) -> list[str]: ...

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the server accepts connections now."""

    @abstractmethod
    def _after_init(self) -> None:
        """Runs once, when the fresh server first accepts connections."""

    # -- running commands ----------------------------------------------------------------------

    def _run(self, command: list[str], *, as_server: bool = True, timeout: float = 60) -> str:
        user = self.os_user if as_server else None
        try:
            done = subprocess.run(
                command,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                cwd=self.root,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ServerError(f"{self.name}: {' '.join(command)}: {error}") from error
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise ServerError(
                f"{self.name}: `{' '.join(command)}` exited with {done.returncode}:\n{output}"
            )
        return done.stdout.decode(errors="replace")

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> float:
        """Start the server (initialising its data directory the first time) and wait
        until it accepts connections; returns the seconds that took."""
        began, fresh = self._spawn()
        while not self._ready():
            self._still_starting(began)
            time.sleep(0.05)
        return self._started(began, fresh)

    async def astart(self) -> float:
        """:meth:`start` for a running event loop: the tasks of a test go on (and meet
        the server down, then up) while the server recovers."""
        began, fresh = self._spawn()
        # Only the probe runs in a thread: the server itself is spawned by this (main)
        # thread, because its parent-death signal fires when the spawning thread exits.
        while not await asyncio.to_thread(self._ready):
            self._still_starting(began)
            await asyncio.sleep(0.05)
        return self._started(began, fresh)

    def _spawn(self) -> tuple[float, bool]:
        if self.process is not None and self.process.poll() is None:
            raise ServerError(f"{self.name} is already running (pid {self.process.pid})")
        began = time.monotonic()
        fresh = not self._initialized
        if fresh:
            self._run(self._init_command())
            self._initialized = True
            self.timings.append(("init", time.monotonic() - began))
            began = time.monotonic()
        with open(self.log, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self._server_command(),
                    user=self.os_user,
                    group=self.os_user,
                    extra_groups=[] if self.os_user else None,
                    cwd=self.root,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    # the hook only calls prctl(), already loaded: safe between fork and exec
                    preexec_fn=_die_with_parent,
                )
            except OSError as error:
                raise ServerError(f"{self.name}: cannot run the server: {error}") from error
        return began, fresh

    def _still_starting(self, began: float) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerError(
                f"{self.name} exited with {self.process.returncode} while starting "
                f"on port {self.port}; its log ends with:\n{_tail(self.log)}"
            )
        if time.monotonic() > began + READY_TIMEOUT:
            self._hard_kill()
            raise ServerError(
                f"{self.name} did not accept connections on port {self.port} within "
                f"{READY_TIMEOUT:.0f} s; its log ends with:\n{_tail(self.log)}"
            )

    def _started(self, began: float, fresh: bool) -> float:
        if fresh:
            self._after_init()
        took = time.monotonic() - began
        self.timings.append(("start", took))
        return took

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def serve(self) -> None:
        """Make sure the server runs and accepts connections: a test that failed
        midway may have left it down, or refusing connections."""
        if self.running and self.refusing:
            self.kill()
        if not self.running:
            await self.astart()

    @abstractmethod
    def kill(self) -> None:
        """Crash the server: no clean shutdown, every client connection cut."""

    def stop(self) -> None:
        """Shut the server down if it runs and remove its data directory."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(self._fast_stop_signal)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._hard_kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    #: the signal that asks the server for a fast, clean shutdown
    _fast_stop_signal = signal.SIGTERM

    def _hard_kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)

    def describe(self) -> str:
        """Its start-up times: initialisation, first start, and the restarts."""
        init = [seconds for step, seconds in self.timings if step == "init"]
        starts = [seconds for step, seconds in self.timings if step == "start"]
        text = f"{self.name} on port {self.port}: init {sum(init):.2f} s"
        if starts:
            text += f", first start {starts[0]:.2f} s"
        if len(starts) > 1:
            again = starts[1:]
            text += f", {len(again)} restarts of {min(again):.2f}-{max(again):.2f} s"
        return text


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServerError(
        "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH; "
        "install the postgresql package to run the fault tests"
    )


class PostgresServer(PrivateServer):
    """A private PostgreSQL cluster; ``kill()`` is ``pg_ctl stop -m immediate``."""

    name = "postgresql"
    # "Fast" shutdown: roll back the sessions, checkpoint, exit.
    _fast_stop_signal = signal.SIGINT

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        super().__init__()
        self.data = self.root / "data"
        #: whether the server (re)starts refusing connections: see :meth:`astart_refusing`
        self.refusing = False

    def _os_user(self) -> str:
        return "postgres"

    async def astart_refusing(self) -> float:
        """Start the server so that it runs but refuses every connection with SQLSTATE
        57P03 (``CannotConnectNowError``), as PostgreSQL does for a moment while it
        recovers from a crash: a standby (``standby.signal``, no primary to follow)
        without hot standby stays in recovery until it is killed. :meth:`astart` after
        :meth:`kill` brings the cluster back as a primary (it was never promoted)."""
        self.refusing = True
        signal_file = self.data / "standby.signal"
        signal_file.touch()
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(signal_file, entry.pw_uid, entry.pw_gid)
        return await self.astart()

    def _spawn(self) -> tuple[float, bool]:
        if not self.refusing:
            (self.data / "standby.signal").unlink(missing_ok=True)
        return super()._spawn()

    def kill(self) -> None:
        """``pg_ctl stop -m immediate``: the postmaster sends SIGQUIT to every backend
        and exits without a checkpoint; the next start replays the WAL."""
        if self.process is None or self.process.poll() is not None:
            raise ServerError(f"{self.name} is not running")
        self._run([str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"])
        self.process.wait(timeout=20)
        self.refusing = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _init_command(self) -> list[str]:
        return [
            str(self.bin / "initdb"),
            "--pgdata",
            str(self.data),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",  # nothing to make durable before the first start
        ]

    def _server_command(self) -> list[str]:
        return [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=40",
            *(["-c", "hot_standby=off"] if self.refusing else []),
        ]

    def _after_init(self) -> None:
        """Nothing: the tests use the ``postgres`` database initdb made."""

    def _ready(self) -> bool:
        probe = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        # pg_isready: 0 accepting connections, 1 rejecting them (what refusing waits for)
        return probe.returncode == (1 if self.refusing else 0)


class MariaDBServer(PrivateServer):
    """A private MariaDB server; ``kill()`` is SIGKILL to ``mariadbd``."""

    name = "mariadb"
    database = "faults"

    def __init__(self) -> None:
        self.mariadbd = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        self.install_db = shutil.which("mariadb-install-db")
        self.admin = shutil.which("mariadb-admin")
        self.client = shutil.which("mariadb")
        if not (self.mariadbd and self.install_db and self.admin and self.client):
            raise ServerError(
                "MariaDB server binaries not found (mariadbd, mariadb-install-db, "
                "mariadb-admin, mariadb); install mariadb-server to run the fault tests"
            )
        super().__init__()
        self.data = self.root / "data"
        self.socket = self.root / "mariadb.sock"

    def _os_user(self) -> str:
        return "mysql"

    @property
    def url(self) -> str:
        return f"mysql+aiomysql://root@127.0.0.1:{self.port}/{self.database}"

    def _user_option(self) -> list[str]:
        return [f"--user={self.os_user}"] if self.os_user else []

    def _init_command(self) -> list[str]:
        assert self.install_db is not None
        return [
            self.install_db,
            "--no-defaults",  # never read /etc/mysql: that is the shared server's
            f"--datadir={self.data}",
            *self._user_option(),
            # root without a password, reachable over TCP from 127.0.0.1
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]

    def _server_command(self) -> list[str]:
        assert self.mariadbd is not None
        return [
            self.mariadbd,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            f"--socket={self.socket}",
            f"--pid-file={self.root / 'mariadb.pid'}",
            "--bind-address=127.0.0.1",
            *self._user_option(),
            "--skip-name-resolve",
            "--performance-schema=OFF",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=2",
            "--max-connections=40",
        ]

    def _client_args(self) -> list[str]:
        return ["--no-defaults", "-uroot", "-h127.0.0.1", f"-P{self.port}"]

    def _ready(self) -> bool:
        assert self.admin is not None
        probe = subprocess.run(
            [self.admin, *self._client_args(), "--connect-timeout=1", "--silent", "ping"],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def _after_init(self) -> None:
        assert self.client is not None
        self._run(
            [self.client, *self._client_args(), "-e", f"CREATE DATABASE {self.database}"],
            as_server=False,
        )

    def kill(self) -> None:
        """SIGKILL to ``mariadbd``: InnoDB recovers from its redo log on the next start."""
        if self.process is None or self.process.poll() is not None:
            raise ServerError(f"{self.name} is not running")
        self.process.kill()
        self.process.wait(timeout=20)


SERVERS: dict[str, type[PrivateServer]] = {"postgresql": PostgresServer, "mysql": MariaDBServer}
