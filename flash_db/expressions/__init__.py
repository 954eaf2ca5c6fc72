"""Query expressions: ``F``, ``Q``, ``Value``, functions and aggregates."""

from .aggregates import Aggregate, Avg, Count, Max, Min, StdDev, Sum, Variance
from .base import CombinedExpression, Expression, F, OrderBy, Resolver, Value, resolve
from .functions import Coalesce, Concat, Func, Length, Lower, Now, Upper
from .q import Q
from .subqueries import Case, Exists, OuterRef, Subquery, When

__all__ = [
    "Aggregate",
    "Avg",
    "Case",
    "Coalesce",
    "CombinedExpression",
    "Concat",
    "Count",
    "Exists",
    "Expression",
    "F",
    "Func",
    "Length",
    "Lower",
    "Max",
    "Min",
    "Now",
    "OrderBy",
    "OuterRef",
    "Q",
    "Resolver",
    "StdDev",
    "Subquery",
    "Sum",
    "Upper",
    "Value",
    "Variance",
    "When",
    "resolve",
]
