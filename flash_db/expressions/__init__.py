"""Query expressions: ``F``, ``Q``, ``Value``, functions and aggregates."""

from .aggregates import Aggregate, Avg, Count, Max, Min, StdDev, Sum, Variance
from .base import CombinedExpression, Expression, F, OrderBy, Resolver, Value, resolve
from .functions import Coalesce, Concat, Func, Length, Lower, Now, Upper
from .q import Q

__all__ = [
    "Aggregate",
    "Avg",
    "Coalesce",
    "CombinedExpression",
    "Concat",
    "Count",
    "Expression",
    "F",
    "Func",
    "Length",
    "Lower",
    "Max",
    "Min",
    "Now",
    "OrderBy",
    "Q",
    "Resolver",
    "StdDev",
    "Sum",
    "Upper",
    "Value",
    "Variance",
    "resolve",
]
