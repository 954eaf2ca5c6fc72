"""The query layer: QuerySet state, compilation to SQLAlchemy Core, managers, hydration."""

from .executor import Executor, get_executor, install
from .features import Features
from .manager import Manager
from .queryset import QuerySet

__all__ = ["Executor", "Features", "Manager", "QuerySet", "get_executor", "install"]
