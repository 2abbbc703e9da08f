"""Pydantic objects built as copies of a prototype's state, without running pydantic: the
per-chunk objects of a stream (the core's text-only chunks, LangChain's message chunks,
LlamaIndex's blocks, messages and responses).

A pydantic object is its ``__dict__`` plus three slots: the set of fields passed, the extra
fields, the private attributes. Setting those four through their slot descriptors builds the
same object ``model_construct`` (or validation) builds, for a fraction of the cost: no walk of
every field in Python, no validators. That is only right when the caller's values are already
what pydantic would have stored, so every builder here is checked against pydantic once, on
the shapes it builds, and falls back to pydantic when this pydantic or this model builds
anything else. The adapters use this module; it holds nothing framework-specific.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = [
    "copier",
    "new",
    "same",
    "set_dict",
    "set_extra",
    "set_fields_set",
    "set_private",
    "state_of",
]

M = TypeVar("M", bound=BaseModel)

#: ``new(cls)``: an object of ``cls`` with no state yet (its four slots must all be set).
new = object.__new__
# pydantic's four instance slots, set through their descriptors: cheaper than
# object.__setattr__, and BaseModel.__setattr__ would validate and record the field.
_slots = BaseModel.__dict__
set_dict: Callable[[BaseModel, dict[str, Any]], None] = _slots["__dict__"].__set__
set_fields_set: Callable[[BaseModel, set[str]], None] = _slots["__pydantic_fields_set__"].__set__
set_extra: Callable[[BaseModel, dict[str, Any] | None], None] = _slots["__pydantic_extra__"].__set__
set_private: Callable[[BaseModel, dict[str, Any] | None], None] = _slots[
    "__pydantic_private__"
].__set__


def state_of(obj: BaseModel) -> tuple[Any, ...]:
    """Everything pydantic keeps of one object (not recursively): its type, ``__dict__`` with
    its key order, fields set, extra and private slots."""
    return (
        type(obj),
        list(obj.__dict__.items()),
        obj.__pydantic_fields_set__,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


def same(a: Any, b: Any) -> bool:
    """``state_of`` equal all the way down (models inside lists and dicts included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return (
            a.__pydantic_fields_set__ == b.__pydantic_fields_set__
            and a.__pydantic_extra__ == b.__pydantic_extra__
            and a.__pydantic_private__ == b.__pydantic_private__
            and list(a.__dict__) == list(b.__dict__)
            and all(same(v, b.__dict__[k]) for k, v in a.__dict__.items())
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(v, b[k]) for k, v in a.items())
    return bool(a == b)


def copier(cls: type[M], sample: Mapping[str, Any]) -> Callable[[dict[str, Any]], M]:
    """``make(state)`` for ``cls``: what ``cls.model_construct(**state)`` returns, for a
    ``state`` dict with the keys of ``sample`` in the same order (the fields in their declared
    order). The dict becomes the object's ``__dict__``: pass a new one each time, with new
    mutable values.

    Checked here, once: ``model_construct`` must store exactly the sample's keys, in that
    order, with no extra or private state, and a copy must equal what it builds. Otherwise
    ``make`` is ``model_construct`` itself (the same objects, at pydantic's cost)."""

    def constructed(state: dict[str, Any]) -> M:
        return cls.model_construct(**state)

    proto = cls.model_construct(**sample)
    if (
        list(proto.__dict__) != list(sample)
        or proto.__pydantic_extra__ is not None
        or proto.__pydantic_private__ is not None
    ):
        return constructed
    fields = proto.__pydantic_fields_set__
    if fields == set(cls.model_fields):
        # With every field set, pydantic never adds to the set (an assignment adds the name
        # it assigns, already there), so one set serves every copy.
        def make(state: dict[str, Any]) -> M:
            obj = new(cls)
            set_dict(obj, state)
            set_fields_set(obj, fields)
            set_extra(obj, None)
            set_private(obj, None)
            return obj

    else:

        def make(state: dict[str, Any]) -> M:
            obj = new(cls)
            set_dict(obj, state)
            set_fields_set(obj, set(fields))  # each copy its own, as pydantic gives
            set_extra(obj, None)
            set_private(obj, None)
            return obj

    if not same(make(dict(sample)), cls.model_construct(**sample)):
        return constructed
    return make
