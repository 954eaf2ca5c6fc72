"""The real ``flash`` executable, run in a temporary project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FLASH = str(Path(sys.executable).with_name("flash"))


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "FLASH_DB_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [FLASH, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_version(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("flash_db ")


def test_check_uses_pyproject_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash_db]\n[tool.flash_db.databases]\ndefault = "sqlite:///proj.sqlite3"\n'
    )
    result = run("db", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "default  sqlite+aiosqlite:///proj.sqlite3  ok" in result.stdout


def test_check_unreachable_masks_password(tmp_path: Path) -> None:
    result = run(
        "db", "check", cwd=tmp_path, env={"FLASH_DB_URL": "postgresql://u:s3cret@127.0.0.1:1/x"}
    )
    assert result.returncode == 1
    assert "s3cret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "u:***@127.0.0.1:1" in result.stderr


def test_check_unknown_alias(tmp_path: Path) -> None:
    result = run("db", "check", "--database", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown database 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_project_commands_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.flash_db.commands]\n"
        'hello = "proj_cli:hello"\n'
        'reports = "proj_cli:reports"\n'
        'broken = "proj_cli:missing"\n'
        'db = "proj_cli:hello"\n'
    )
    (tmp_path / "proj_cli.py").write_text(
        "import typer\n\n"
        "def hello(name: str = 'world') -> None:\n"
        "    '''Say hello.'''\n"
        "    print(f'hello {name}')\n\n"
        "reports = typer.Typer(help='Reports.')\n\n"
        "@reports.command()\n"
        "def monthly() -> None:\n"
        "    print('monthly report')\n"
    )
    result = run("hello", "--name", "Ann", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello Ann\n"
    assert run("reports", "monthly", cwd=tmp_path).stdout == "monthly report\n"
    assert "broken" in result.stderr and "not loaded" in result.stderr
    assert "'db'" in result.stderr and "clashes" in result.stderr
    listing = run("--help", cwd=tmp_path).stdout
    assert "hello" in listing and "reports" in listing


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        "makemigrations", "migrate", "showmigrations", "sqlmigrate", "dumpdata",
        "loaddata", "inspectdb", "check", "alembic",
    ):  # fmt: skip
        result = run("db", command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Usage: flash db " + command in result.stdout


def test_reference_page_is_current(tmp_path: Path) -> None:
    """docs/cli.md is generated from the typer app; regenerate it when a command changes:
    ``.venv/bin/typer flash_db.cli utils docs --name flash --title "Command line reference"
    --output docs/cli.md``."""
    page = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    out = tmp_path / "cli.md"
    typer_cli = str(Path(sys.executable).with_name("typer"))
    subprocess.run(
        [typer_cli, "flash_db.cli", "utils", "docs", "--name", "flash",
         "--title", "Command line reference", "--output", str(out)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert out.read_text() == page.read_text(), "docs/cli.md is stale: regenerate it (see above)"
