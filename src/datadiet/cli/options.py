"""Command-line options generated from dataclass fields declared with :func:`datadiet.toolkit.fields.setting`:
the field's type gives the option's type, its metadata the help and flag, so a setting and its
flag are one definition.

``add_options(parser, RunConfig, ["epochs", "learning_rate"])`` adds ``--epochs`` and ``--lr``;
``option_values(args, RunConfig, names)`` reads the parsed values back by field name.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import MISSING, Field, fields
from typing import Any, Callable, Iterable, Mapping

from datadiet.toolkit.fields import describe, field_types, optional_type

__all__ = ["add_options", "flag_of", "option_values"]

_NOT_GIVEN = object()


def flag_of(f: Field) -> str:
    """The flag of a field: its ``flag`` metadata, else ``--`` + the name with ``-`` for ``_``."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _dest(f: Field) -> str:
    return flag_of(f).lstrip("-").replace("-", "_")


def _converter(annotation: Any, none_word: str | None) -> tuple[Callable[[str], Any], bool]:
    """``(parse one word, takes several words)`` for a field's annotation."""
    inner, optional = optional_type(annotation)
    many = typing.get_origin(inner) in (list, tuple)
    item = (typing.get_args(inner) or (str,))[0] if many else inner

    def parse(text: str) -> Any:
        if optional and none_word and text.lower() in (none_word, "none"):
            return None
        if many:  # "0.5,0.2" and "0.5 0.2" both give [0.5, 0.2]
            return [item(v) for v in text.replace(",", " ").split()]
        return item(text)

    what = describe(inner).removeprefix("an ").removeprefix("a ")
    parse.__name__ = what + (f" (or '{none_word}')" if optional and none_word else "")  # "invalid <name> value"
    return parse, many


def _default_text(value: Any, none_word: str | None) -> str:
    if value is None:
        return none_word or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_options(parser: argparse.ArgumentParser | Any, cls: type, names: Iterable[str] | None = None, *,
                defaults: Mapping[str, Any] | None = None, use_defaults: bool = True,
                choices: Mapping[str, Iterable[Any]] | None = None) -> None:
    """Add one option per field of the dataclass ``cls`` (those in ``names``, in that order; all by default).

    Args:
        parser: an ``ArgumentParser`` or argument group.
        defaults: defaults that replace the class's (e.g. fewer epochs for a demo).
        use_defaults: False: options left out are absent from the parsed namespace (so a config
            file can fill them); the help still shows the class default.
        choices: allowed values of some fields.
    """
    by_name = {f.name: f for f in fields(cls)}
    hints = field_types(cls)
    defaults, choices = dict(defaults or {}), dict(choices or {})
    for name in (list(by_name) if names is None else names):
        f = by_name[name]
        if name in defaults:
            default = defaults[name]
        elif f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = _NOT_GIVEN
        none_word = f.metadata.get("none")
        parse, many = _converter(hints[name], none_word)
        text = f.metadata.get("help", "")
        if default is not _NOT_GIVEN and "(default:" not in text and (default is not None or none_word):
            text += f" (default: {_default_text(default, none_word)})"
        kwargs: dict[str, Any] = {"dest": _dest(f), "help": text.replace("%", "%%"), "type": parse,
                                  "default": default if use_defaults and default is not _NOT_GIVEN else argparse.SUPPRESS,
                                  "metavar": name.upper()}
        if many:
            kwargs["nargs"] = "+"
        if name in choices:
            kwargs["choices"] = list(choices[name])
        parser.add_argument(flag_of(f), **kwargs)


def option_values(args: argparse.Namespace, cls: type, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The values of ``cls``'s options in parsed ``args``, by field name; options absent from
    ``args`` (not given, with ``use_defaults=False``) are left out. Several-word lists are flattened."""
    by_name = {f.name: f for f in fields(cls)}
    out = {}
    for name in (list(by_name) if names is None else names):
        f = by_name[name]
        if not hasattr(args, _dest(f)):
            continue
        value = getattr(args, _dest(f))
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            value = [x for v in value for x in v]
        out[name] = value
    return out
