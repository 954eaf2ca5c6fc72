"""``flash_db.__all__`` is explicit, importable and holds every name api.md promises."""

from __future__ import annotations

import importlib

import pytest
import sqlalchemy as sa

import flash_db

API_MD_NAMES = [
    "Model",
    "fields",
    "Q",
    "F",
    "Value",
    "Count",
    "Sum",
    "Avg",
    "Min",
    "Max",
    "StdDev",
    "Variance",
    "Lower",
    "Upper",
    "Length",
    "Coalesce",
    "Concat",
    "Now",
    "connect",
    "disconnect",
    "create_all",
    "drop_all",
    "registry",
    "inspect",
    "metadata",
    "exceptions",
    "QuerySet",
    "Manager",
]


def test_all_is_an_explicit_list_of_unique_strings() -> None:
    names = flash_db.__all__
    assert isinstance(names, list)
    assert all(isinstance(name, str) for name in names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", flash_db.__all__)
def test_every_name_in_all_is_importable(name: str) -> None:
    assert hasattr(flash_db, name)
    namespace: dict[str, object] = {}
    exec(f"from flash_db import {name}", namespace)
    assert namespace[name] is getattr(flash_db, name)


@pytest.mark.parametrize("name", API_MD_NAMES)
def test_api_md_names_are_exported(name: str) -> None:
    assert name in flash_db.__all__


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from flash_db import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(flash_db.__all__)


def test_exported_objects_are_what_they_claim() -> None:
    assert flash_db.metadata is importlib.import_module("flash_db.models").metadata
    assert isinstance(flash_db.metadata, sa.MetaData)
    assert flash_db.exceptions is importlib.import_module("flash_db.exceptions")
    assert flash_db.fields is importlib.import_module("flash_db.fields")
    for name in ("connect", "disconnect", "create_all", "drop_all", "inspect"):
        assert callable(getattr(flash_db, name))


@pytest.mark.parametrize(
    "name",
    [
        "AutoField",
        "BigAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "FloatField",
        "DecimalField",
        "CharField",
        "TextField",
        "BooleanField",
        "DateField",
        "DateTimeField",
        "TimeField",
        "DurationField",
        "UUIDField",
        "JSONField",
        "BinaryField",
        "EnumField",
    ],
)
def test_api_md_field_types_exist(name: str) -> None:
    assert isinstance(getattr(flash_db.fields, name), type)


@pytest.mark.parametrize(
    "name",
    [
        "FlashDBError",
        "DoesNotExist",
        "MultipleObjectsReturned",
        "ValidationError",
        "FieldError",
        "IntegrityError",
        "ProtectedError",
        "RelationNotLoaded",
        "ConfigurationError",
    ],
)
def test_api_md_exceptions_exist_under_the_base(name: str) -> None:
    exc = getattr(flash_db.exceptions, name)
    assert issubclass(exc, flash_db.exceptions.FlashDBError)
