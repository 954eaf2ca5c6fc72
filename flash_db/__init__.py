"""flash_db: an async, Django-style ORM on SQLAlchemy Core.

Example::

    import asyncio
    import flash_db
    from flash_db import Model, fields

    class Author(Model):
        name = fields.CharField(max_length=100)

    async def main():
        async with flash_db.connect("sqlite+aiosqlite:///:memory:"):
            await flash_db.create_all()
            await Author.objects.create(name="Ann")
            print(await Author.objects.filter(name__startswith="A").count())

    asyncio.run(main())
"""

from . import exceptions, fields, signals
from .constraints import CheckConstraint, Index, UniqueConstraint
from .db import atomic, connect, connections, create_all, disconnect, drop_all, on_commit
from .expressions import (
    Avg,
    Case,
    Coalesce,
    Concat,
    Count,
    Exists,
    F,
    Func,
    Length,
    Lower,
    Max,
    Min,
    Now,
    OuterRef,
    Q,
    StdDev,
    Subquery,
    Sum,
    Upper,
    Value,
    Variance,
    When,
)
from .lookups import Lookup, Transform
from .models import Model, inspect, metadata, registry
from .query import Manager, QuerySet
from .query.prefetch import Prefetch

__version__ = "0.1.0"

__all__ = [
    "Avg",
    "Case",
    "CheckConstraint",
    "Coalesce",
    "Concat",
    "Count",
    "Exists",
    "F",
    "Func",
    "Index",
    "Length",
    "Lookup",
    "Lower",
    "Manager",
    "Max",
    "Min",
    "Model",
    "Now",
    "OuterRef",
    "Prefetch",
    "Q",
    "QuerySet",
    "StdDev",
    "Subquery",
    "Sum",
    "Transform",
    "UniqueConstraint",
    "Upper",
    "Value",
    "Variance",
    "When",
    "__version__",
    "atomic",
    "connect",
    "connections",
    "create_all",
    "disconnect",
    "drop_all",
    "exceptions",
    "fields",
    "inspect",
    "metadata",
    "on_commit",
    "registry",
    "signals",
]
