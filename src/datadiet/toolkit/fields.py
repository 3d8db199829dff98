"""Settings as dataclass fields: one definition gives a setting its type, default, help and
command-line flag, and checks values read from a config file against that type.

- :func:`setting` declares a field with its help (and, where the flag is not ``--field-name``, its
  flag); :mod:`datadiet.cli.options` turns such fields into ``argparse`` options.
- :func:`setting_errors` checks every field of a dataclass instance against its annotation
  (``epochs: '2'`` is a string, not an integer) and against value rules; :func:`unknown_key_errors`
  names keys that are no field, with the closest valid one.
- :class:`ConfigError` carries one line per bad setting: the key, the value, what is allowed.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import MISSING, Field, field, fields
from typing import Any, Callable, Iterable, Sequence

__all__ = ["ConfigError", "Rule", "allowed_text", "describe", "field_types", "is_instance", "optional_type", "setting",
           "setting_errors", "unknown_key_errors"]


class ConfigError(ValueError):
    """Invalid settings, one line per bad setting in :attr:`errors` (``key: got VALUE; allowed: ...``)."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def setting(default: Any = MISSING, *, help: str, flag: str | None = None, none: str | None = None,
            default_factory: Callable[[], Any] | Any = MISSING) -> Field:
    """A dataclass field with its documentation.

    Args:
        default, default_factory: as :func:`dataclasses.field`.
        help: what the setting does (the flag's help and the config key's documentation).
        flag: the command-line flag when it is not ``--`` + the name with ``-`` for ``_``.
        none: for an optional field, the word that means None on the command line (e.g. ``all``).
    """
    return field(default=default, default_factory=default_factory,
                 metadata={"help": help, "flag": flag, "none": none})


def field_types(cls: type) -> dict[str, Any]:
    """The evaluated annotation of every field of the dataclass ``cls``."""
    return typing.get_type_hints(cls)


def optional_type(annotation: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None`` / ``Optional[X]``, else ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping"}
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def describe(annotation: Any) -> str:
    """What values of ``annotation`` look like, in words (``int | None``: an integer or null)."""
    inner, optional = optional_type(annotation)
    if typing.get_origin(inner) in (list, tuple):
        item = (typing.get_args(inner) or (Any,))[0]
        text = f"a list of {_PLURALS.get(item, 'values')}"
    else:
        text = _NAMES.get(typing.get_origin(inner) or inner, getattr(inner, "__name__", str(inner)))
    return f"{text} or null" if optional else text


def is_instance(value: Any, annotation: Any) -> bool:
    """Whether ``value`` has the type ``annotation`` as a config value: no bool for an integer or a
    number, an integer is a number, None only for an optional field."""
    inner, optional = optional_type(annotation)
    if value is None:
        return optional
    origin = typing.get_origin(inner) or inner
    if origin is Any:
        return True
    if origin in (list, tuple):
        item = (typing.get_args(inner) or (Any,))[0]
        return isinstance(value, (list, tuple)) and all(is_instance(v, item) for v in value)
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin)


def _value_text(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict)):
        return repr(value)
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f"{value!r} (a string)"
        if "e" in value.lower() and "." not in value:
            return f"{value!r} (a string: YAML reads an exponent without a dot as text; write e.g. 5.0e-4)"
        return f"{value!r} (a string: write it without quotes)"
    return f"{value!r} (a {type(value).__name__})"


def allowed_text(key: str, value: Any, allowed: str) -> str:
    """The one-line message of a bad setting: ``key: got VALUE; allowed: ALLOWED``."""
    return f"{key}: got {_value_text(value)}; allowed: {allowed}"


Rule = tuple[str, Callable[[Any], bool], str]
"""``(key, predicate on the value, what is allowed)``: a value check of one setting; the text also
describes the setting in a type error, so it should name the type (``an integer >= 1``)."""


def setting_errors(obj: Any, rules: Iterable[Rule] = ()) -> dict[str, str]:
    """Messages of the bad settings of the dataclass instance ``obj``, by key: a value whose type
    is not the annotated one, then the ``rules`` it breaks (checked only on well-typed values;
    None values of optional settings pass)."""
    rules = list(rules)
    texts = {key: allowed for key, _, allowed in rules}
    hints = field_types(type(obj))
    out: dict[str, str] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if not is_instance(value, hints[f.name]):
            out[f.name] = allowed_text(f.name, value, texts.get(f.name, describe(hints[f.name])))
    for key, ok, allowed in rules:
        value = getattr(obj, key)
        if key not in out and value is not None and not ok(value):
            out[key] = allowed_text(key, value, allowed)
    return out


def unknown_key_errors(keys: Iterable[str], valid: Iterable[str]) -> list[str]:
    """One line per key not in ``valid``, with the closest valid key when one is close."""
    valid = sorted(valid)
    out = []
    for key in keys:
        if key in valid:
            continue
        close = difflib.get_close_matches(str(key), valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append(f"{key}: unknown key{hint}; allowed keys: {', '.join(valid)}")
    return out


def from_mapping(cls, values, extra_keys: Iterable[str] = ()):
    """An instance of the dataclass ``cls`` from a mapping of settings, every error reported at
    once in one :class:`ConfigError`: unknown keys (``extra_keys`` are allowed and ignored) and
    whatever the dataclass's own checks refuse."""
    import dataclasses

    valid = {f.name for f in dataclasses.fields(cls)}
    errors = unknown_key_errors(values, valid | set(extra_keys))
    instance = None
    try:
        instance = cls(**{k: v for k, v in values.items() if k in valid})
    except ConfigError as exc:
        errors += exc.errors
    if errors:
        raise ConfigError(errors)
    return instance
