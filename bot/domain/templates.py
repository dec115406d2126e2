"""Message templates: `{field}` placeholders filled in per recipient (product.md §5).

A template is the text of an SMS with named holes: `Hi {first_name}, your order {order} is ready`.
The holes are filled from the contact (`{name}`, `{first_name}`) and, in bulk sends, from the
recipient's CSV row (any column). The rules live here, once, so `/sms send --template`, the
compose form, the bulk form and `sms-bot bulk` refuse and fill exactly alike:

- A field is looked up by name ignoring case and surrounding spaces, because CSV headers are
  typed by people (`First Name`, `first name `) and templates by other people.
- `{{` and `}}` are literal braces, as in Python's own format strings, so a text can still say
  `{` without meaning a field.
- Every field must be known *before* anything is sent: `missing_fields` names the ones a source
  cannot fill, so a bulk run of ten thousand rows is refused up front, never half-sent.
- A field's value is inserted as is; `{a.b}` and `{a[0]}` are plain names here, never Python
  attribute or index lookups, and format specs (`{x:>10}`) are refused as malformed, since a
  template must never be able to reach anything but the values it is given.

It imports nothing of the project: the callers decide where values come from.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONTACT_FIELDS = ("name", "first_name")


class TemplateError(ValueError):
    """A template that cannot be used as written; the message says why in plain words."""


class MalformedTemplate(TemplateError):
    pass


class UnknownFields(TemplateError):
    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(fields)
        listed = ", ".join("{" + field + "}" for field in self.fields)
        noun = "field" if len(self.fields) == 1 else "fields"
        super().__init__(f"The template uses the {noun} {listed}, which nothing here fills in.")


@dataclass(frozen=True)
class _Piece:
    literal: str
    field: str | None


def field_key(name: str) -> str:
    """How a field or column name is compared: case and surrounding spaces ignored."""
    return name.strip().casefold()


def _pieces(text: str) -> list[_Piece]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:  # a lone "{" or "}"
        raise MalformedTemplate(
            f"The template has an unmatched brace ({error}); write {{{{ or }}}} for a literal one."
        ) from None
    pieces = []
    for literal, field, spec, conversion in parsed:
        if field is not None:
            if not field.strip():
                raise MalformedTemplate("The template has an empty field {}; name it, like {name}.")
            if spec or conversion:
                raise MalformedTemplate(
                    f"The field {{{field}}} has a format part; use a plain name, like {{name}}."
                )
        pieces.append(_Piece(literal, field))
    return pieces


def fields_of(text: str) -> tuple[str, ...]:
    """The fields a template uses, each once, in order of first use (raises `MalformedTemplate`)."""
    seen: dict[str, str] = {}
    for piece in _pieces(text):
        if piece.field is not None:
            seen.setdefault(field_key(piece.field), piece.field.strip())
    return tuple(seen.values())


def missing_fields(text: str, available: Iterable[str]) -> tuple[str, ...]:
    """The fields of `text` that `available` names cannot fill (empty when all can)."""
    known = {field_key(name) for name in available}
    return tuple(field for field in fields_of(text) if field_key(field) not in known)


def check_fields(text: str, available: Iterable[str]) -> None:
    """Raise `UnknownFields` naming every field `available` cannot fill."""
    missing = missing_fields(text, available)
    if missing:
        raise UnknownFields(missing)


def render(text: str, values: Mapping[str, str]) -> str:
    """The text with every field replaced by its value (raises `UnknownFields` first)."""
    by_key = {field_key(name): value for name, value in values.items()}
    check_fields(text, by_key)
    return "".join(
        piece.literal + ("" if piece.field is None else by_key[field_key(piece.field)])
        for piece in _pieces(text)
    )


def fixed_text(text: str) -> str:
    """What every message from the template says: the text with its fields left empty (so the
    least any filled-in message can measure)."""
    return render(text, {field: "" for field in fields_of(text)})


def contact_values(name: str | None) -> dict[str, str]:
    """`{name}` and `{first_name}` for a recipient; empty strings for a number with no contact."""
    full = (name or "").strip()
    return {"name": full, "first_name": full.split()[0] if full else ""}
