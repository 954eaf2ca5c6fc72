"""The implementations of the workload in ``workload.py``, one module each.

``flashdb`` (the subject), ``raw`` (the drivers: the floor), ``sa_core``
(hand-written SQLAlchemy Core), ``sa_orm`` (SQLAlchemy ORM ``AsyncSession``)
and ``tortoise_peer`` (Tortoise ORM, optional: the ``bench`` extra).
"""
