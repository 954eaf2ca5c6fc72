"""Temporary projects for the ``flash`` command tests: a folder with pyproject.toml and models.

``scratch_url(backend)`` gives a brand-new, empty database on the backend's server
(PostgreSQL and MariaDB: ``CREATE DATABASE flash_scratch_<n>``; SQLite: a new file),
so CLI tests never touch the suite's own tables; ``drop_scratch(url)`` removes it.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .. import conftest

FLASH = str(Path(sys.executable).with_name("flash"))
_counter = itertools.count()


def _server_url(backend: str) -> str:
    return conftest.BACKENDS[backend][0]


def scratch_url(backend: str, tmp_path: Path) -> str:
    """A new empty database on ``backend``'s server, as an async SQLAlchemy URL string."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / f'scratch{next(_counter)}.sqlite3'}"
    name = f"flash_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base = make_url(_server_url(backend))
    _admin(base, f"CREATE DATABASE {name}")
    return base.set(database=name).render_as_string(hide_password=False)


def drop_scratch(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    _admin(parsed, f"DROP DATABASE IF EXISTS {parsed.database}")


def _admin(url: sa.engine.URL, statement: str) -> None:
    """Run ``statement`` outside a transaction with the command-line client of the server."""
    if url.get_backend_name() == "postgresql":
        cmd = [
            "psql",
            "-h", url.host or "127.0.0.1",
            "-p", str(url.port or 5432),
            "-U", url.username or "postgres",
            "-d", "postgres",
            "-v", "ON_ERROR_STOP=1",
            "-qc", statement,
        ]  # fmt: skip
    else:
        cmd = [
            "mariadb",
            "-h", url.host or "127.0.0.1",
            "-P", str(url.port or 3306),
            "-u", url.username or "root",
            "-e", statement,
        ]  # fmt: skip
        if url.password:
            cmd.insert(1, f"-p{url.password}")
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)


@dataclass
class FlashProject:
    """A project folder: ``pyproject.toml`` naming the databases, and model modules."""

    root: Path
    databases: dict[str, str]
    models: tuple[str, ...] = ("app.models",)

    def write_config(self, extra: str = "") -> None:
        dbs = "\n".join(f'{alias} = "{url}"' for alias, url in self.databases.items())
        models = ", ".join(f'"{m}"' for m in self.models)
        (self.root / "pyproject.toml").write_text(
            f'[tool.flash_db]\nmodels = [{models}]\nmigrations = "migrations"\n{extra}\n'
            f"[tool.flash_db.databases]\n{dbs}\n"
        )

    def write_module(self, module: str, source: str) -> Path:
        """Write ``module`` (dotted name) under the project, creating packages as needed."""
        parts = module.split(".")
        folder = self.root.joinpath(*parts[:-1])
        folder.mkdir(parents=True, exist_ok=True)
        for depth in range(1, len(parts)):
            init = self.root.joinpath(*parts[:depth], "__init__.py")
            if not init.exists():
                init.write_text("")
        path = folder / f"{parts[-1]}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def flash(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real ``flash`` executable in the project folder."""
        return self.flash_env({}, *args, timeout=timeout)

    def flash_env(
        self, extra: dict[str, str], *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``flash(*args)`` with ``extra`` in the environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("FLASH_DB_URL", "FLASH_DB_CONFIG")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return subprocess.run(
            [FLASH, *args], cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout
        )

    def flash_without_ruff(
        self, *args: str, extra: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``flash(*args)`` as it runs where ruff is not installed, to see revisions unformatted.

        flash_db formats a new revision with the ruff on PATH or beside the interpreter, and
        this suite's virtualenv has one: the CLI's entry point runs here with neither (PATH
        without ruff, ``sys.executable`` in a folder that does not exist).
        """
        path = os.pathsep.join(
            d
            for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not Path(d, "ruff").exists()
        )
        code = (
            "import sys\n"
            "sys.executable = '/nonexistent/bin/python'\n"
            "sys.argv = ['flash', *sys.argv[1:]]\n"
            "from flash_db.cli import main\n"
            "main()\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("FLASH_DB_URL", "FLASH_DB_CONFIG")}
        env.update(PYTHONDONTWRITEBYTECODE="1", PATH=path)
        env.update(extra or {})
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def python(self, source: str) -> str:
        """Run ``source`` as a script in the project folder (its own process); its stdout."""
        script = self.root / "_script.py"
        script.write_text(textwrap.dedent(source).lstrip())
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        return result.stdout

    def sql(self, statement: str, alias: str = "default") -> list[tuple[Any, ...]]:
        """Run one statement on ``alias`` (committed); the rows it returns, as JSON values."""
        out = self._on_connection(
            alias,
            f"result = await c.execute(sa.text({statement!r}))\n"
            "rows = [list(r) for r in result] if result.returns_rows else []\n"
            "await c.commit()",
        )
        return [tuple(row) for row in json.loads(out)]

    def tables(self, alias: str = "default") -> set[str]:
        """The tables in ``alias``'s database."""
        out = self._on_connection(
            alias, "rows = await c.run_sync(lambda s: sa.inspect(s).get_table_names())"
        )
        return set(json.loads(out))

    def columns(self, table: str, alias: str = "default") -> list[str]:
        """The column names of ``table`` in ``alias``'s database."""
        out = self._on_connection(
            alias,
            "rows = await c.run_sync(lambda s: "
            f"[x['name'] for x in sa.inspect(s).get_columns({table!r})])",
        )
        return list(json.loads(out))

    def _on_connection(self, alias: str, body: str) -> str:
        source = (
            "import asyncio, json\n"
            "import sqlalchemy as sa\n"
            "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "async def main():\n"
            f"    engine = create_async_engine({self.databases[alias]!r})\n"
            "    async with engine.connect() as c:\n"
            f"{textwrap.indent(body, ' ' * 8)}\n"
            "    await engine.dispose()\n"
            "    print(json.dumps(rows, default=str))\n"
            "asyncio.run(main())\n"
        )
        return self.python(source).strip().splitlines()[-1]

    def ok(self, *args: str) -> str:
        """Run ``flash *args``, assert exit code 0, return stdout."""
        result = self.flash(*args)
        assert result.returncode == 0, (
            f"flash {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result.stdout
