"""Model classes without a database: definition errors (and that they leave nothing behind),
the implicit pk, identity, labels, ``inspect()``, ``__table__``, validation, abstract bases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

import flash_db
from flash_db import Model, fields, metadata, registry
from flash_db.exceptions import ConfigurationError, FieldError, ValidationError
from flash_db.models.options import app_label_for, snake_case

from .models import Article, Checked, Code, Note, Stamped, Status, Writer

# -- helpers --------------------------------------------------------------------------------


def _meta_class(**options: Any) -> type:
    return type("Meta", (), {"app_label": "unit", **options})


def define(name: str, table: str, **attrs: Any) -> type[Model]:
    """Define a model class ``name`` with ``Meta.table = table`` (and app label ``unit``).

    The qualname is that of a class defined inside a test function, as ``class`` statements
    in tests would have (the registry treats an equal qualname as a re-definition).
    """
    meta = attrs.pop("Meta", None) or _meta_class(table=table)
    namespace = {
        "__module__": __name__,
        "__qualname__": f"test.<locals>.{name}",
        "Meta": meta,
        **attrs,
    }
    return type(Model)(name, (Model,), namespace)  # type: ignore[no-any-return]


def forget(model: type[Model]) -> None:
    """Remove a throwaway model from the registry and the shared MetaData."""
    registry.unregister(model)
    table = metadata.tables.get(model._meta.table_name)
    if table is not None and table is model._meta.table:
        metadata.remove(table)


@pytest.fixture
def throwaway() -> Iterator[list[type[Model]]]:
    """Models appended to this list are forgotten after the test."""
    models: list[type[Model]] = []
    yield models
    for model in models:
        forget(model)


def assert_left_nothing_behind(label: str, table: str) -> None:
    assert label not in registry, f"{label} stayed in the registry after a failed definition"
    assert table not in metadata.tables, (
        f"table {table} stayed on the MetaData after a failed definition"
    )


def assert_can_define_again(throwaway: list[type[Model]], name: str, table: str) -> None:
    """A failed definition must not block a corrected one."""
    model = define(name, table, ok=fields.IntegerField(default=0))
    throwaway.append(model)
    assert registry.get_model(f"unit.{name}") is model
    assert metadata.tables[table] is model.__table__


# -- definition errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field_name", ["pk", "objects", "save", "delete", "full_clean", "clean", "refresh_from_db"]
)
def test_field_shadowing_the_model_api_is_refused(
    field_name: str, throwaway: list[type[Model]]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        define("Shadow", "unit_shadow", **{field_name: fields.IntegerField()})
    assert repr(field_name) in str(info.value)
    assert_left_nothing_behind("unit.Shadow", "unit_shadow")
    assert_can_define_again(throwaway, "Shadow", "unit_shadow")


@pytest.mark.parametrize("field_name", ["a__b", "double__", "trailing_"])
def test_field_name_that_would_clash_with_lookups_is_refused(
    field_name: str, throwaway: list[type[Model]]
) -> None:
    with pytest.raises(ConfigurationError, match="__"):
        define("Dunder", "unit_dunder", **{field_name: fields.IntegerField()})
    assert_left_nothing_behind("unit.Dunder", "unit_dunder")
    assert_can_define_again(throwaway, "Dunder", "unit_dunder")


def test_inheriting_from_a_concrete_model_is_refused(throwaway: list[type[Model]]) -> None:
    with pytest.raises(ConfigurationError, match="concrete model Writer"):

        class SubWriter(Writer):
            extra = fields.IntegerField(null=True)

            class Meta:
                app_label = "unit"
                table = "unit_sub_writers"

    assert_left_nothing_behind("unit.SubWriter", "unit_sub_writers")
    assert_can_define_again(throwaway, "SubWriter", "unit_sub_writers")


def test_unknown_meta_option_is_refused(throwaway: list[type[Model]]) -> None:
    with pytest.raises(ConfigurationError) as info:
        define(
            "Colourful",
            "unit_colourful",
            Meta=_meta_class(table="unit_colourful", colour="red"),
            a=fields.IntegerField(),
        )
    message = str(info.value)
    assert "colour" in message
    assert "ordering" in message  # names the valid options
    assert_left_nothing_behind("unit.Colourful", "unit_colourful")
    assert_can_define_again(throwaway, "Colourful", "unit_colourful")


def test_two_primary_keys_are_refused(throwaway: list[type[Model]]) -> None:
    with pytest.raises(ConfigurationError, match="primary key"):
        define(
            "TwoKeys",
            "unit_two_keys",
            a=fields.IntegerField(primary_key=True),
            b=fields.IntegerField(primary_key=True),
        )
    assert_left_nothing_behind("unit.TwoKeys", "unit_two_keys")
    assert_can_define_again(throwaway, "TwoKeys", "unit_two_keys")


def test_id_that_is_not_the_primary_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="primary"):
        define("BadId", "unit_bad_id", id=fields.IntegerField())
    assert_left_nothing_behind("unit.BadId", "unit_bad_id")


def test_duplicate_table_name_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        define("OtherWriters", "unit_writers", x=fields.IntegerField())
    assert "unit_writers" in str(info.value)
    assert "Writer" in str(info.value)  # names the owner
    assert "unit.OtherWriters" not in registry
    assert metadata.tables["unit_writers"] is Writer.__table__
    assert registry.get_model("unit.Writer") is Writer


def test_duplicate_table_name_of_the_integration_models_is_refused() -> None:
    from tests import models as integration_models

    with pytest.raises(ConfigurationError):
        define("Clash", "authors", x=fields.IntegerField())
    assert metadata.tables["authors"] is integration_models.Author.__table__
    assert "unit.Clash" not in registry


def test_duplicate_label_leaves_nothing_behind() -> None:
    try:
        with pytest.raises(ConfigurationError, match=r"unit\.Writer"):
            define("Writer", "unit_writers_again", x=fields.IntegerField())
        assert registry.get_model("unit.Writer") is Writer
        assert "unit_writers_again" not in metadata.tables
    finally:
        leaked = metadata.tables.get("unit_writers_again")
        if leaked is not None:
            metadata.remove(leaked)


@pytest.mark.parametrize(
    "option",
    [
        {"unique_together": [("a", "nope")]},
        {"indexes": [flash_db.Index(fields=["nope"])]},
        {"constraints": [flash_db.UniqueConstraint(fields=["a", "nope"], name="unit_bad_uq")]},
        {"constraints": [flash_db.CheckConstraint(flash_db.Q(nope__gt=0), name="unit_bad_ck")]},
    ],
)
def test_meta_naming_an_unknown_field_leaves_nothing_behind(
    option: dict[str, Any], throwaway: list[type[Model]]
) -> None:
    try:
        with pytest.raises(ConfigurationError, match="nope"):
            define(
                "BadMeta",
                "unit_bad_meta",
                Meta=_meta_class(table="unit_bad_meta", **option),
                a=fields.IntegerField(),
            )
        assert_left_nothing_behind("unit.BadMeta", "unit_bad_meta")
        assert_can_define_again(throwaway, "BadMeta", "unit_bad_meta")
    finally:
        # Clean up after the bug so the other parametrisations see a fresh MetaData.
        leaked = metadata.tables.get("unit_bad_meta")
        if leaked is not None and all(m.__table__ is not leaked for m in throwaway):
            metadata.remove(leaked)


def test_same_label_from_another_module_is_refused() -> None:
    namespace = {
        "__module__": "elsewhere.models",
        "__qualname__": "Writer",
        "Meta": _meta_class(table="unit_writers_elsewhere"),
    }
    impostor: Any = None
    try:
        with pytest.raises(ConfigurationError, match=r"unit\.Writer"):
            impostor = type(Model)("Writer", (Model,), namespace)
    finally:
        if impostor is not None:
            metadata.remove(impostor.__table__)
        registry.register(Writer)  # put the real one back
    assert registry.get_model("unit.Writer") is Writer


def test_abstract_models_are_not_registered_and_have_no_table() -> None:
    assert Stamped not in registry
    assert "unit.Stamped" not in registry
    assert "stamped" not in metadata.tables
    assert Stamped._meta.abstract
    assert not Stamped._meta.ready
    with pytest.raises(ConfigurationError, match="has no table"):
        Stamped._meta.table  # noqa: B018


# -- implicit pk, pk, identity --------------------------------------------------------------


def test_implicit_id_is_a_big_auto_primary_key() -> None:
    meta = flash_db.inspect(Writer)
    assert meta.pk.name == "id"
    assert type(meta.pk) is fields.BigAutoField
    assert meta.pk.primary_key
    assert meta.fields[0] is meta.pk
    assert Writer.__table__.c.id.primary_key
    assert Writer.__table__.c.id.autoincrement is True


def test_explicit_primary_key_replaces_the_implicit_id() -> None:
    meta = flash_db.inspect(Code)
    assert meta.pk.name == "code"
    assert [f.name for f in meta.fields] == ["code", "label"]
    assert "id" not in Code.__table__.c


def test_pk_is_the_primary_key_whatever_its_name() -> None:
    assert Writer(id=5, name="x").pk == 5
    assert Code(code="ab", label="x").pk == "ab"
    assert Writer(pk=7, name="x").id == 7
    code = Code(code="ab", label="x")
    code.pk = "cd"
    assert code.code == "cd"
    assert Writer(name="x").pk is None


def test_equality_is_same_model_and_pk() -> None:
    assert Writer(id=1, name="a") == Writer(id=1, name="b")
    assert Writer(id=1, name="a") != Writer(id=2, name="a")
    assert Writer(id=1, name="a") != Article(id=1, title="a")
    assert Writer(id=1, name="a") != 1
    unsaved = Writer(name="a")
    assert unsaved == unsaved
    assert unsaved != Writer(name="a")


def test_hash_follows_equality_and_unsaved_instances_are_unhashable() -> None:
    assert hash(Writer(id=1, name="a")) == hash(Writer(id=1, name="b"))
    assert len({Writer(id=1, name="a"), Writer(id=1, name="b"), Writer(id=2, name="c")}) == 2
    with pytest.raises(TypeError, match="unhashable"):
        hash(Writer(name="a"))


def test_label_is_app_dot_class_name() -> None:
    assert Writer._meta.label == "unit.Writer"
    assert registry.get_model("unit.Writer") is Writer
    assert registry.get_model("unit.writer") is Writer  # case-insensitive


@pytest.mark.parametrize(
    ("module", "app"),
    [("blog.models", "blog"), ("shop.catalog.models", "catalog"), ("blog.models_extra", "blog")],
)
def test_app_label_defaults_to_the_package_of_the_models_module(module: str, app: str) -> None:
    assert app_label_for(module) == app


def test_default_app_label_and_table_name(throwaway: list[type[Model]]) -> None:
    namespace = {"__module__": "blogapp.models", "__qualname__": "UnitBlogPost"}
    model = type(Model)("UnitBlogPost", (Model,), {**namespace, "title": fields.TextField()})
    throwaway.append(model)
    assert model._meta.label == "blogapp.UnitBlogPost"
    assert model._meta.table_name == "unit_blog_post"
    assert registry.get_model("blogapp.UnitBlogPost") is model


@pytest.mark.parametrize(
    ("name", "snake"), [("BlogPost", "blog_post"), ("HTTPLog", "http_log"), ("A", "a")]
)
def test_snake_case(name: str, snake: str) -> None:
    assert snake_case(name) == snake


def test_doesnotexist_and_multipleobjectsreturned_per_model() -> None:
    assert issubclass(Writer.DoesNotExist, flash_db.exceptions.DoesNotExist)
    assert issubclass(Writer.MultipleObjectsReturned, flash_db.exceptions.MultipleObjectsReturned)
    assert Writer.DoesNotExist is not Article.DoesNotExist


# -- inspect, registry, __table__ -----------------------------------------------------------


def test_inspect_describes_the_model() -> None:
    meta = flash_db.inspect(Writer)
    assert meta is Writer._meta
    assert [f.name for f in meta.fields] == ["id", "name", "email", "active", "joined"]
    assert meta.table is Writer.__table__
    assert meta.table.name == "unit_writers"
    assert meta.pk.name == "id"
    assert meta.ordering == ("name",)
    assert meta.relations == {}
    assert meta.database is None
    assert meta.get_field("email").null


def test_inspect_refuses_non_models() -> None:
    with pytest.raises(TypeError):
        flash_db.inspect(object)


def test_registry_holds_the_concrete_models() -> None:
    for model in (Writer, Article, Code, Note, Checked):
        assert model in registry
        assert model._meta.label in registry
    with pytest.raises(ConfigurationError, match="unknown model"):
        registry.get_model("unit.Nope")


def test_dunder_table_is_the_sqlalchemy_table_on_the_shared_metadata() -> None:
    assert isinstance(Writer.__table__, sa.Table)
    assert Writer.__table__ is Writer._meta.table
    assert Writer.__table__.metadata is flash_db.metadata
    assert flash_db.metadata.tables["unit_writers"] is Writer.__table__


def test_table_columns_follow_the_fields() -> None:
    table = Writer.__table__
    assert [c.name for c in table.c] == ["id", "name", "email", "active", "joined"]
    assert table.c.name.unique
    assert not table.c.name.nullable
    assert table.c.email.nullable
    assert isinstance(table.c.name.type, sa.String) and table.c.name.type.length == 100
    # db_column: the column is renamed, the key stays the field name
    assert Code.__table__.c.label.name == "label_text"


def test_class_access_is_the_field_and_instance_access_is_the_value() -> None:
    assert isinstance(Writer.name, fields.CharField)
    assert Writer.name.name == "name"
    assert Writer(name="Ann").name == "Ann"


def test_manager_is_only_on_the_class() -> None:
    assert isinstance(Writer.objects, flash_db.Manager)
    with pytest.raises(AttributeError, match="Manager isn't accessible"):
        Writer(name="x").objects  # noqa: B018


# -- construction ---------------------------------------------------------------------------


def test_defaults_fill_missing_values() -> None:
    writer = Writer(name="Ann")
    assert writer.active is True
    assert writer.email is None
    article = Article(title="x")
    assert article.price == Decimal("0")
    assert article.status is Status.DRAFT
    assert article.body == ""


def test_callable_default_is_called_per_instance(throwaway: list[type[Model]]) -> None:
    model = define("WithList", "unit_with_list", tags=fields.JSONField(default=list))
    throwaway.append(model)
    one, two = model(), model()
    assert one.tags == [] and two.tags == []
    assert one.tags is not two.tags


def test_unknown_keyword_raises_field_error_naming_the_choices() -> None:
    with pytest.raises(FieldError) as info:
        Writer(name="Ann", nmae="x")
    assert "nmae" in str(info.value)
    assert "email" in str(info.value)


def test_attname_is_accepted_for_db_column_fields() -> None:
    assert Code(code="a", label="b").label == "b"


# -- abstract inheritance -------------------------------------------------------------------


def test_abstract_model_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Stamped()


def test_abstract_inheritance_copies_fields_and_meta_ordering() -> None:
    assert [f.name for f in Note._meta.fields] == ["id", "created", "text"]
    assert Note._meta.ordering == ("-created",)
    created = Note._meta.get_field("created")
    assert created is not Stamped._meta.fields[0]  # a copy, bound to Note
    assert created.model is Note
    assert "created" in Note.__table__.c
    assert not Note._meta.abstract


def test_get_field_on_an_abstract_model() -> None:
    assert Stamped._meta.get_field("created").name == "created"


def test_abstract_base_table_name_is_not_inherited(throwaway: list[type[Model]]) -> None:
    base = type(Model)(
        "UnitBase",
        (Model,),
        {
            "__module__": __name__,
            "__qualname__": "UnitBase",
            "Meta": _meta_class(abstract=True, table="unit_base_table", ordering=["n"]),
            "n": fields.IntegerField(default=0),
        },
    )
    child = type(base)(
        "UnitChild",
        (base,),
        {"__module__": __name__, "__qualname__": "UnitChild", "Meta": _meta_class()},
    )
    throwaway.append(child)
    assert child._meta.table_name == "unit_child"
    assert child._meta.ordering == ("n",)
    assert "unit_base_table" not in metadata.tables


# -- full_clean -----------------------------------------------------------------------------


def errors_of(**values: Any) -> dict[str, list[str]]:
    try:
        Checked(**values).full_clean()
    except ValidationError as exc:
        return exc.errors
    return {}


def test_valid_instance_passes_and_values_are_converted() -> None:
    checked = Checked(name="abc", level="7", amount="1.5")
    checked.full_clean()
    assert checked.level == 7
    assert checked.amount == Decimal("1.5")


def test_every_field_reports_its_own_errors_at_once() -> None:
    errors = errors_of(
        name="toolong", kind="z", level=11, small=40000, amount=Decimal("1.234"), ratio=1.5, even=3
    )
    assert set(errors) == {"name", "kind", "level", "small", "amount", "ratio", "even"}
    assert errors["name"] == ["ensure this value has at most 5 characters (it has 7)"]
    assert "choices" in errors["kind"][0]
    assert errors["level"] == ["ensure this value is less than or equal to 10"]
    assert errors["small"] == ["ensure this value is less than or equal to 32767"]
    assert errors["amount"] == ["ensure there are no more than 2 decimal places"]
    assert errors["ratio"] == ["ensure this value is less than or equal to 1.0"]
    assert errors["even"] == ["3 is not even"]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": None}, "name", "this field cannot be null"),
        ({"name": "abc", "level": -1}, "level", "greater than or equal to 0"),
        ({"name": "abc", "amount": Decimal("1234.5")}, "amount", "3 digits before the point"),
        ({"name": "abc", "amount": "x"}, "amount", "not a decimal number"),
        ({"name": "abc", "level": "y"}, "level", "not an integer"),
        ({"name": "abc", "ratio": float("nan")}, "ratio", "NaN"),
        ({"name": "a b"}, "name", "no spaces allowed"),  # a validator raising ValueError
        (
            {"name": "abc", "even": 5},
            "even",
            "5 is not even",
        ),  # a validator raising ValidationError
    ],
)
def test_field_errors(values: dict[str, Any], field: str, message: str) -> None:
    errors = errors_of(**values)
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_choices_and_null() -> None:
    assert errors_of(name="abc", kind="a") == {}
    assert errors_of(name="abc", kind=None) == {}


def test_clean_adds_a_non_field_error() -> None:
    assert errors_of(name="admin") == {"__all__": ["admin is a reserved name"]}


def test_clean_adds_a_field_error() -> None:
    assert errors_of(name="root") == {"level": ["root needs level 10"]}
    assert errors_of(name="root", level=10) == {}


def test_clean_runs_after_field_errors_and_merges() -> None:
    errors = errors_of(name="admin", level=-1)
    assert errors == {
        "level": ["ensure this value is greater than or equal to 0"],
        "__all__": ["admin is a reserved name"],
    }
    errors = errors_of(name="root", level=11)
    assert errors["level"] == [
        "ensure this value is less than or equal to 10",
        "root needs level 10",
    ]


def test_full_clean_exclude_skips_fields() -> None:
    Checked(name="toolong").full_clean(exclude=["name"])


def test_validation_error_shapes() -> None:
    assert ValidationError("x").errors == {"__all__": ["x"]}
    assert ValidationError(["x", "y"]).errors == {"__all__": ["x", "y"]}
    assert ValidationError({"a": "x", "b": ["y", "z"]}).errors == {"a": ["x"], "b": ["y", "z"]}
    assert ValidationError({"a": "x"}).messages == ["x"]


def test_auto_now_add_field_may_be_empty_before_save() -> None:
    Writer(name="Ann").full_clean()
    Note(text="x").full_clean()


def test_datetime_values_are_converted() -> None:
    article = Article(title="x", updated="2024-01-02T03:04:05+00:00", published="2024-01-02")
    article.full_clean()
    assert article.updated == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert article.published == dt.date(2024, 1, 2)
