"""Command-line flags derived from config dataclasses: a field with its help text is the whole definition.

A field's type gives the flag's kind: a Literal gives its choices; a bool gives a switch (`--name` when it
defaults to False, `--no-name` when it defaults to True); `X | None` accepts 0 for None (`--clip 0` = off).
`tuple[X, ...]` takes values (`--ks 4 8 16`; `--ks` alone for none, where the config allows none).
`metadata={"help": ..., "flag": ...}` gives the help text and, where it differs from the field's name, the flag.
"""

import argparse
import dataclasses
import types
import typing


def help_of(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


def _flag(f: dataclasses.Field) -> str:
    if "flag" in f.metadata:
        return f.metadata["flag"]
    name = f.name.replace("_", "-")
    return f"--no-{name}" if f.type is bool and f.default is True else f"--{name}"


def _optional(tp) -> tuple[type, bool]:
    """(the type inside, whether None is allowed) of `X | None` or X."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], len(inner) < len(args)
    return tp, False


def _element(tp):
    """(the type of one value, whether the field holds several): X of `tuple[X, ...]`, else tp itself."""
    if typing.get_origin(tp) is tuple:
        return typing.get_args(tp)[0], True
    return tp, False


def choices_of(f: dataclasses.Field) -> tuple | None:
    """The values a Literal-typed field (or each value of a tuple of Literals) allows; None for other fields."""
    inner, _ = _element(_optional(f.type)[0])
    return typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else None


def add_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One flag per field of the dataclass cls, with its help text and default."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False:
            continue
        text = help_of(f)
        if f.type is bool:
            action = "store_false" if f.default is True else "store_true"
            parser.add_argument(_flag(f), dest=f.name, action=action, default=f.default, help=text)
            continue
        inner, optional = _optional(f.type)
        inner, several = _element(inner)
        choices = choices_of(f)
        kind = None if choices else inner
        default = f.default if f.default is not None or not optional else 0
        note = "; 0 = none" if optional and "0" not in text else ""
        parser.add_argument(
            _flag(f),
            dest=f.name,
            type=kind,
            choices=choices,
            default=list(default) if several else default,
            nargs="*" if several else None,
            help=f"{text}{note} (default: %(default)s)",
        )


def from_args(cls, args: argparse.Namespace, **overrides):
    """cls built from parsed flags (0 for an optional field means None); ValueError if a value is out of range."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli") is False or not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        inner, optional = _optional(f.type)
        value = tuple(value) if _element(inner)[1] else value
        values[f.name] = None if optional and not value else value
    return cls(**(values | overrides))


def to_words(config, always: tuple[str, ...] = ()) -> list[str]:
    """The flags that give `config` from its class's defaults (fields named in `always` even at their default)."""
    words = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("cli") is False or (value == f.default and f.name not in always):
            continue
        if f.type is bool:
            words.append(_flag(f))
        elif isinstance(value, tuple):
            words += [_flag(f), *map(str, value)]
        else:
            words += [_flag(f), str(0 if value is None else value)]
    return words
