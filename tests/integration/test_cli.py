"""The real ``flash`` executable, run in a temporary project."""

from __future__ import annotations

import os
import re
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
    # the relative path is the file next to pyproject.toml
    assert f"default  sqlite+aiosqlite:///{tmp_path.resolve()}/proj.sqlite3  ok" in result.stdout


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


MODELS = "from flash_db import Model, fields\n\n\nclass Author(Model):\n    name = fields.CharField(max_length=100)\n"


def test_relative_sqlite_path_is_next_to_the_pyproject(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "models.py").write_text(MODELS)
    (tmp_path / "data").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash_db]\nmodels = ["app.models"]\n'
        '[tool.flash_db.databases]\ndefault = "sqlite:///data/app.sqlite3"\n'
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    made = run("db", "makemigrations", cwd=sub)
    assert made.returncode == 0, made.stderr
    assert "wrote migrations/default/versions/" in made.stdout
    # comparing the models with a database that does not exist yet creates no file
    assert list(tmp_path.rglob("*.sqlite3")) == []
    migrated = run("db", "migrate", cwd=sub)
    assert migrated.returncode == 0, migrated.stderr
    # run from sub/, the database is still the one pyproject.toml names: data/app.sqlite3
    assert list(tmp_path.rglob("*.sqlite3")) == [tmp_path / "data" / "app.sqlite3"]
    check = run("db", "check", cwd=sub)
    assert f"sqlite+aiosqlite:///{tmp_path}/data/app.sqlite3  ok" in check.stdout


def test_unknown_pyproject_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.flash_db]\nmodel = ["app.models"]\n')
    result = run("db", "makemigrations", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: unknown key(s) 'model' in [tool.flash_db] of {tmp_path}/pyproject.toml "
        "(did you mean 'models'?); known keys: commands, databases, migrations, models, "
        "routers\n"
    )


def test_help_says_the_real_defaults_and_no_python_types(tmp_path: Path) -> None:
    expected = {
        "makemigrations": "default: every database with models or a migrations folder",
        "migrate": "default: every database with models or a migrations folder",
        "showmigrations": "default: every database with models or a migrations folder",
        "check": "default: every configured database",
        "sqlmigrate": "default: 'default'",
        "inspectdb": "default: 'default'",
        "alembic": "default: 'default'",
        "dumpdata": "default: each model's own database",
        "loaddata": "default: each model's own database",
    }
    pages = {"": run("--help", cwd=tmp_path).stdout, "db": run("db", "--help", cwd=tmp_path).stdout}
    for command, default in expected.items():
        page = run("db", command, "--help", cwd=tmp_path).stdout
        pages[command] = page
        flat = " ".join(page.split())
        assert f"-d, --database ALIAS Database alias ({default}" in flat, (command, page)
    reference = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    for name, text in [*pages.items(), ("docs/cli.md", reference)]:
        # typer writes an argument's annotation after it: <str>, <list[str]>, <Path> …
        assert not re.search(r"<(str|int|bool|path|Path|list\[[^>]*\])>", text), (name, text)
    alembic = " ".join(pages["alembic"].split())
    assert "Usage: flash db alembic [-d ALIAS] ALEMBIC_ARGS..." in alembic
    assert "passes through to Alembic's own command line unchanged" in alembic


def test_alembic_help_passes_through_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.flash_db]\n")
    result = run("db", "alembic", "--", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: flash db alembic")  # Alembic's own help
    assert "stamp" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
