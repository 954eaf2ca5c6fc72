"""Configuration: precedence (arguments > FLASH_DB_URL > pyproject > default), URL driver
fill-in, and passwords never shown (``flash_db.db.config``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from flash_db.db.config import DEFAULT_URL, mask, normalise_url, resolve
from flash_db.exceptions import ConfigurationError

PASSWORD = "pa55w0rd-XyZ"


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    """A pyproject.toml with a [tool.flash_db] section."""
    path = tmp_path / "pyproject.toml"
    path.write_text(
        """
[project]
name = "blog"

[tool.flash_db]
models = ["blog.models"]
migrations = "db/migrations"
commands = ["blog.cli"]

[tool.flash_db.databases]
default = "sqlite:///from_pyproject.sqlite3"
archive = "postgresql://archiver:secret@db.example/archive"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def empty_pyproject(tmp_path: Path) -> Path:
    """A pyproject.toml without [tool.flash_db] (so the repository's own is not read)."""
    path = tmp_path / "empty" / "pyproject.toml"
    path.parent.mkdir()
    path.write_text('[project]\nname = "x"\n', encoding="utf-8")
    return path


# -- precedence -----------------------------------------------------------------------------


def test_arguments_win_over_environment_and_pyproject(pyproject: Path) -> None:
    settings = resolve(
        "postgresql://app@127.0.0.1/args",
        pyproject=pyproject,
        environ={"FLASH_DB_URL": "mysql://app@127.0.0.1/env"},
    )
    assert str(settings.databases["default"]) == "postgresql+asyncpg://app@127.0.0.1/args"
    assert settings.source == "arguments"


def test_databases_argument_wins(pyproject: Path) -> None:
    settings = resolve(
        databases={"default": "sqlite:///a.sqlite3", "replica": "sqlite:///b.sqlite3"},
        pyproject=pyproject,
        environ={"FLASH_DB_URL": "mysql://app@127.0.0.1/env"},
    )
    assert {alias: str(url) for alias, url in settings.databases.items()} == {
        "default": "sqlite+aiosqlite:///a.sqlite3",
        "replica": "sqlite+aiosqlite:///b.sqlite3",
    }
    assert settings.source == "arguments"


def test_environment_wins_over_pyproject(pyproject: Path) -> None:
    settings = resolve(pyproject=pyproject, environ={"FLASH_DB_URL": "mysql://app@127.0.0.1/env"})
    assert str(settings.databases["default"]) == "mysql+aiomysql://app@127.0.0.1/env"
    assert settings.source == "FLASH_DB_URL"
    # the other pyproject databases are still configured
    assert settings.databases["archive"].database == "archive"


def test_empty_environment_variable_is_ignored(pyproject: Path) -> None:
    settings = resolve(pyproject=pyproject, environ={"FLASH_DB_URL": ""})
    assert settings.databases["default"].database == str(
        pyproject.parent / "from_pyproject.sqlite3"
    )


def test_pyproject_is_used_without_arguments_or_environment(pyproject: Path) -> None:
    settings = resolve(pyproject=pyproject, environ={})
    # a relative SQLite path is the file next to pyproject.toml, wherever flash runs
    assert str(settings.databases["default"]) == (
        f"sqlite+aiosqlite:///{pyproject.parent}/from_pyproject.sqlite3"
    )
    assert settings.databases["archive"].drivername == "postgresql+asyncpg"
    assert settings.models == ["blog.models"]
    assert settings.migrations == "db/migrations"
    assert settings.extra == {"commands": ["blog.cli"]}
    assert settings.pyproject == pyproject
    assert settings.source == str(pyproject)


def test_default_is_sqlite_in_the_working_directory(empty_pyproject: Path) -> None:
    settings = resolve(pyproject=empty_pyproject, environ={})
    assert str(settings.databases["default"]) == DEFAULT_URL == "sqlite+aiosqlite:///db.sqlite3"
    assert settings.source == "default"
    assert settings.models == []
    assert settings.migrations == "migrations"


def test_relative_sqlite_path_is_relative_to_the_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / "sub").mkdir(parents=True)
    path = project / "pyproject.toml"
    path.write_text(
        '[tool.flash_db.databases]\ndefault = "sqlite:///data/app.sqlite3"\n'
        'mem = "sqlite://"\nabs = "sqlite:////srv/x.sqlite3"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(project / "sub")
    found = resolve(environ={})  # found from the sub-folder, the path still means proj/data
    assert found.databases["default"].database == str(project / "data" / "app.sqlite3")
    assert found.databases["mem"].database is None
    assert found.databases["abs"].database == "/srv/x.sqlite3"
    # FLASH_DB_URL is not in the file: relative to the working directory, as before
    env = resolve(environ={"FLASH_DB_URL": "sqlite:///here.sqlite3"})
    assert env.databases["default"].database == "here.sqlite3"


def test_unknown_key_names_the_known_keys(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.flash_db]\nmodel = ["blog.models"]\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        resolve(pyproject=path, environ={})
    assert str(caught.value) == (
        f"unknown key(s) 'model' in [tool.flash_db] of {path} (did you mean 'models'?); "
        "known keys: commands, databases, migrations, models, routers"
    )


def test_models_may_be_a_single_string(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.flash_db]\nmodels = "blog.models"\n', encoding="utf-8")
    assert resolve(pyproject=path, environ={}).models == ["blog.models"]


def test_databases_without_default_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[tool.flash_db.databases]\nreplica = "sqlite:///r.sqlite3"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match="default"):
        resolve(pyproject=path, environ={})


def test_invalid_toml_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.flash_db\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="TOML"):
        resolve(pyproject=path, environ={})


# -- URL normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("mysql://u@h/db", "mysql+aiomysql://u@h/db"),
        ("mysql+aiomysql://u@h:3307/db", "mysql+aiomysql://u@h:3307/db"),
        ("mariadb://u@h/db", "mysql+aiomysql://u@h/db"),
        ("sqlite:///x", "sqlite+aiosqlite:///x"),
        ("sqlite:///x.sqlite3", "sqlite+aiosqlite:///x.sqlite3"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
    ],
)
def test_driver_is_filled_in(url: str, expected: str) -> None:
    assert normalise_url(url) == make_url(expected)


def test_url_objects_are_accepted() -> None:
    assert normalise_url(make_url("postgresql://u@h/db")).drivername == "postgresql+asyncpg"


def test_password_survives_normalisation() -> None:
    url = normalise_url(f"postgresql://u:{PASSWORD}@h/db")
    assert url.password == PASSWORD


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg2://u:{PASSWORD}@h/db",
        f"postgresql+psycopg://u:{PASSWORD}@h/db",
        f"mysql+pymysql://u:{PASSWORD}@h/db",
        f"sqlite+pysqlite:///x?password={PASSWORD}",
    ],
)
def test_sync_driver_is_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url(url)
    message = str(info.value)
    assert "async" in message
    assert PASSWORD not in message


def test_unsupported_backend_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url(f"oracle://scott:{PASSWORD}@h/db")
    assert "oracle" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        f"://u:{PASSWORD}@h",
        pytest.param(
            f"postgresql//u:{PASSWORD}@h/db",
        ),
        pytest.param(
            f"postgresql:/u:{PASSWORD}@h/db",
        ),
    ],
)
def test_unparseable_url_is_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url(url)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("url", [f"postgresql://u:{PASSWORD}@h:notaport/db"])
def test_bad_port_is_a_configuration_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalise_url(url)
    assert PASSWORD not in str(info.value)


def test_resolve_reports_bad_urls_from_the_environment_without_the_password(
    empty_pyproject: Path,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve(
            pyproject=empty_pyproject,
            environ={"FLASH_DB_URL": f"postgresql+psycopg2://u:{PASSWORD}@h/db"},
        )
    assert PASSWORD not in str(info.value)


# -- mask -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://user:{PASSWORD}@db.example:5432/app",
        f"mysql://user:{PASSWORD}@db.example/app",
        f"://user:{PASSWORD}@db.example",  # unparseable: still masked
        pytest.param(
            f"postgresql//user:{PASSWORD}@db.example/app",
        ),
    ],
)
def test_mask_hides_the_password(url: str) -> None:
    masked = mask(url)
    assert PASSWORD not in masked
    assert "user" in masked
    assert "db.example" in masked


def test_mask_accepts_url_objects() -> None:
    url = make_url(f"postgresql+asyncpg://user:{PASSWORD}@h/app")
    assert PASSWORD not in mask(url)
    assert mask(url) == "postgresql+asyncpg://user:***@h/app"


def test_mask_leaves_urls_without_password_alone() -> None:
    assert mask("sqlite+aiosqlite:///db.sqlite3") == "sqlite+aiosqlite:///db.sqlite3"


def test_mask_never_raises() -> None:
    assert PASSWORD not in mask(f"postgresql://u:{PASSWORD}@h:notaport/db")


def test_settings_repr_does_not_show_passwords(pyproject: Path) -> None:
    settings = resolve(
        pyproject=pyproject, environ={"FLASH_DB_URL": f"postgresql://u:{PASSWORD}@h/db"}
    )
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.databases["default"])
