"""Request parameters as the gateway reads them: raw bytes, names case-sensitive.

Values are percent-decoded to bytes and never through UTF-8: without `unicode=1` the gateway reads
`text` as ISO-8859-1, so a UTF-8 `ä` arrives as `Ã¤` (protocol reference §5). The undecoded form
of each value is kept too, because production sent a `%2C`-encoded `to` list only to its first
recipient (§1) and the sandbox reproduces that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

AUTH_SECRETS = frozenset({"password", "session_id"})


class Value(NamedTuple):
    """One parameter (immutable; a tuple because every request builds several of these)."""

    decoded: bytes
    raw: bytes  # as it appeared in the query string or form body


_PERCENT, _PLUS = ord("%"), ord("+")  # byte values: `int in bytes` is the cheapest test


def _unquote(data: bytes) -> bytes:
    if _PERCENT not in data and _PLUS not in data:
        return data  # nothing to decode: most names and values (numbers, flags, hex, IDs)
    return unquote_to_bytes(data.replace(b"+", b" "))


class Params(Mapping[str, bytes]):
    """name -> decoded bytes. A repeated name keeps its last value, as PHP did. Immutable."""

    def __init__(self, values: Mapping[str, Value] | None = None):
        self._values: dict[str, Value] = dict(values or {})

    @classmethod
    def _owning(cls, values: dict[str, Value]) -> Params:
        """Params over `values` without copying them (the caller gives them up)."""
        params = cls.__new__(cls)
        params._values = values
        return params

    @classmethod
    def parse(cls, data: bytes) -> Params:
        values: dict[str, Value] = {}
        for piece in data.split(b"&"):
            if not piece:
                continue
            name, _, raw = piece.partition(b"=")
            values[_unquote(name).decode("latin-1")] = Value(_unquote(raw), raw)
        return cls._owning(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Params:
        """Parameters remembered as text (a batch's startbatch parameters)."""
        encoded = {k: v.encode("latin-1") for k, v in values.items()}
        return cls({k: Value(v, v) for k, v in encoded.items()})

    def merged(self, later: Params) -> Params:
        """These parameters overridden by `later` (a POST's body over its query string)."""
        if not self._values:  # the usual POST: no query string
            return later
        return Params._owning({**self._values, **later._values})

    def __getitem__(self, name: str) -> bytes:
        return self._values[name].decoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def text(self, name: str) -> str | None:
        """The value read as ISO-8859-1 (every byte is a character), or None when absent."""
        value = self._values.get(name)
        return None if value is None else value.decoded.decode("latin-1")

    def filled(self, name: str) -> str | None:
        """Like `text`, but an empty or blank value counts as absent."""
        value = self.text(name)
        return value.strip() or None if value is not None else None

    def raw(self, name: str) -> bytes | None:
        value = self._values.get(name)
        return None if value is None else value.raw

    def public(self) -> dict[str, str]:
        """Every parameter but the secrets, for inspection and the saved state."""
        return {
            k: v.decoded.decode("latin-1") for k, v in self._values.items() if k not in AUTH_SECRETS
        }
