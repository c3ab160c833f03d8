"""The Bot Framework wire, both ways, without msrest's per-call overhead but with msrest's exact results.

`activity_from` reads inbound JSON into an Activity; `ActivitySerializer` writes outbound activities. Each
has a fast path for well-typed values and hands anything unusual to msrest whole, so conversions and errors
stay msrest's. tests/bench/test_wire.py compares both with msrest on random activities.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import botbuilder.schema
from botbuilder.schema import Activity
from msrest import Deserializer
from msrest.exceptions import SerializationError
from msrest.serialization import Model, Serializer


class _Unusual(Exception):
    """A value the fast path leaves to msrest."""


def activity_from(payload: dict) -> Activity:
    """The Activity msrest's `Activity().deserialize(payload)` gives, faster (see _ActivityReader)."""
    try:
        return _READER.model(Activity, payload)
    except _Unusual:
        return _READER(Activity.__name__, payload)


class _ActivityReader(Deserializer):
    """msrest's Deserializer, built once, with a fast path for well-typed JSON.

    `Activity().deserialize(payload)` builds a throwaway Activity, a dict of every schema model and a
    Deserializer on every call, then walks each of Activity's 42 attributes through generic dispatch. Here
    each model class's attributes are planned once, and a payload whose values have the JSON types the
    schema declares (strings, booleans, integers, nested models and lists of them, any JSON in `object`
    fields, ISO dates parsed by msrest itself) becomes the same Activity: the same attribute values, the
    same copies of `object` fields, the same `additional_properties` for unknown keys. Any other payload —
    a number where a string is declared, a string where a model is, a type the plan does not know — goes
    to msrest whole, so its conversions and its errors are exactly msrest's. tests/bench/test_wire.py
    compares both on random payloads.
    """

    def __init__(self) -> None:
        super().__init__({k: v for k, v in vars(botbuilder.schema).items() if isinstance(v, type)})
        self._plans: dict[type, tuple[list, frozenset]] = {}

    def model(self, cls: type, data: Any) -> Any:
        if type(data) is not dict:
            raise _Unusual()
        plan, known = self._plans.get(cls) or self._plan(cls)
        kwargs = {}
        for attr, key, kind, target in plan:
            raw = data.get(key)
            if raw is None:
                kwargs[attr] = None
            elif kind is str or kind is bool or kind is int:
                if type(raw) is not kind:
                    raise _Unusual()
                kwargs[attr] = raw
            elif kind == "object":
                kwargs[attr] = _json_copy(raw)
            elif kind == "model":
                kwargs[attr] = self.model(target, raw)
            elif kind == "models" or kind == "strs":
                if type(raw) is not list:
                    raise _Unusual()
                kwargs[attr] = [None if v is None else self.model(target, v) if kind == "models" else _exact_str(v)
                                for v in raw]
            elif kind == "iso-8601":
                try:
                    kwargs[attr] = self.deserialize_data(raw, kind)
                except Exception:
                    raise _Unusual() from None
            else:
                raise _Unusual()
        instance = cls(**kwargs)
        extra = data.keys() - known
        if extra:
            instance.additional_properties = {k: data[k] for k in extra}
        return instance

    def _plan(self, cls: type) -> tuple[list, frozenset]:
        if cls._validation or "_subtype_map" in cls.__dict__:
            raise _Unusual()
        plan, known = [], set()
        for attr, desc in cls._attribute_map.items():
            key, data_type = desc["key"], desc["type"]
            if not isinstance(data_type, str) or not key or "." in key:
                raise _Unusual()  # flattened keys, additional-properties maps: msrest
            known.add(key)
            inner = self.dependencies.get(data_type.strip("[]{}"))
            is_model = isinstance(inner, type) and issubclass(inner, Model)
            if data_type in ("str", "bool", "int"):
                plan.append((attr, key, {"str": str, "bool": bool, "int": int}[data_type], None))
            elif data_type in ("object", "iso-8601"):
                plan.append((attr, key, data_type, None))
            elif data_type == "[str]":
                plan.append((attr, key, "strs", None))
            elif is_model and data_type == f"[{inner.__name__}]":
                plan.append((attr, key, "models", inner))
            elif is_model and data_type == inner.__name__:
                plan.append((attr, key, "model", inner))
            else:
                plan.append((attr, key, "other", None))  # floats, dicts, bytes: msrest, for the whole payload
        self._plans[cls] = result = (plan, frozenset(known))
        return result


def _json_copy(value: Any) -> Any:
    """msrest's deserialize_object on parsed JSON: a deep copy."""
    kind = type(value)
    if kind is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    raise _Unusual()


def _exact_str(value: Any) -> str:
    if type(value) is not str:
        raise _Unusual()
    return value


_READER = _ActivityReader()


class ActivitySerializer(Serializer):
    """msrest's Serializer, with a fast `body()` for a model sent as its own type (an Activity, or the
    ConversationParameters of a proactive chat) whose values are plain: str, enums, bool, int, models, lists
    of them, and JSON-shaped dicts/lists in `object` fields (card content, channel data).

    msrest's body() first *deserialises* the model it was given into a model again (meant for dicts passed
    as bodies; for a model it is an identity copy), validates it, then serialises it attribute by attribute
    through generic dispatch. For such a model the output here is the same dict, key for key and in the same
    order: None values left out, enums as their value, `object` fields copied. Validation cannot fail for
    these classes (their `_validation` is empty, which the plan checks). Anything else goes to msrest as
    before: the attribute alone when msrest's round trip leaves it untouched (dates, floats, odd values in
    `object` fields), the whole body when the round trip could change it (a dict where a model is declared,
    enum- or dict-of-model-typed attributes). tests/bench/test_wire.py compares both, on the activities this
    bot sends and on random ones.
    """

    def body(self, data, data_type, **kwargs):
        cls = self.dependencies.get(data_type)
        if not kwargs and cls is not None and type(data) is cls:
            try:
                return self._model(data)
            except _Unusual:
                pass
        return super().body(data, data_type, **kwargs)

    def _model(self, model: Model) -> dict:
        out = {}
        for attr, key, kind, data_type in self._plan(type(model)):
            value = getattr(model, attr)
            if value is None:
                continue
            if kind == "str":
                if type(value) is str:
                    out[key] = value
                elif isinstance(value, Enum):
                    out[key] = value.value  # msrest's serialize_unicode
                else:
                    self._fallback(out, key, value, data_type)
            elif kind == "bool" or kind == "int":
                if type(value) is _BASIC[kind]:
                    out[key] = value
                else:
                    self._fallback(out, key, value, data_type)
            elif kind == "model":
                out[key] = self._nested(value)
            elif kind == "models" or kind == "strs":
                if type(value) is not list:
                    raise _Unusual()
                out[key] = [None if v is None else self._nested(v) if kind == "models" else _str(v) for v in value]
            elif kind == "object":
                try:
                    out[key] = self._plain(value)
                except _Unusual:
                    self._fallback(out, key, value, data_type)
            elif kind == "other":
                self._fallback(out, key, value, data_type)
            else:  # "roundtrip": msrest's deserialising round trip may change this value
                raise _Unusual()
        return out

    def _nested(self, value: Any) -> dict:
        if not isinstance(value, Model):
            raise _Unusual()  # msrest's round trip would turn it into a model first
        return self._model(value)

    def _plain(self, value: Any) -> Any:
        """msrest's serialize_object for JSON-shaped values: a copy (models inside are serialised)."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float or value is None:
            return value
        if kind is dict:
            out = {}
            for k, v in value.items():
                if type(k) is not str:
                    raise _Unusual()
                out[k] = self._plain(v)
            return out
        if kind is list:
            return [self._plain(v) for v in value]
        if isinstance(value, Model):
            return self._model(value)
        raise _Unusual()

    def _fallback(self, out: dict, key: str, value: Any, data_type: str) -> None:
        """Exactly what msrest's _serialize does for one attribute."""
        try:
            out[key] = self.serialize_data(value, data_type, is_xml=False)
        except ValueError as error:
            if isinstance(error, SerializationError):
                raise
            # msrest leaves the attribute out

    def _plan(self, cls: type) -> list[tuple[str, str, str, str]]:
        """Per model class, once: (attribute, JSON key, kind, msrest type)."""
        plan = _PLANS.get(cls)
        if plan is None:
            _PLANS[cls] = plan = self._make_plan(cls)
        return plan

    def _make_plan(self, cls: type) -> list[tuple[str, str, str, str]]:
        if getattr(cls, "_validation", None) or getattr(cls, "_subtype_map", None) or cls.is_xml_model():
            raise _Unusual()
        plan = []
        for attr, desc in cls._attribute_map.items():
            key, data_type = desc["key"], desc["type"]
            if not isinstance(data_type, str) or "." in key or (attr == "additional_properties" and key == ""):
                raise _Unusual()  # flattened keys, additional properties: msrest's own handling
            inner = self.dependencies.get(data_type.strip("[]{}"))
            if data_type in ("str", "bool", "int", "object"):
                kind = data_type
            elif data_type == "[str]":
                kind = "strs"
            elif _is_model(inner) and data_type == f"[{inner.__name__}]":
                kind = "models"
            elif _is_model(inner) and data_type == inner.__name__:
                kind = "model"
            elif inner is not None:
                kind = "roundtrip"
            else:
                kind = "other"  # dates, floats, dicts of plain values, bytes: msrest, attribute by attribute
            plan.append((attr, key, kind, data_type))
        return plan


_BASIC = {"bool": bool, "int": int}
_PLANS: dict[type, list[tuple[str, str, str, str]]] = {}


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Model)


def _str(value: Any) -> str:
    if type(value) is not str:
        raise _Unusual()
    return value
