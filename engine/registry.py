"""A small name -> factory registry shared by the data and model builders."""
from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=Callable)


class UnknownNameError(KeyError):
    """A config names a model or dataset that is not registered; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""  # KeyError would print the message's repr


class Registry(Generic[T]):
    """Maps a config name (``MODEL.NAME``, ``DATA.DATASET``) to a factory.

    Args:
        kind: what the names denote, used in error messages ("model", "dataset").
        config_key: the config key that selects an entry, used in error messages.
    """

    def __init__(self, kind: str, config_key: str) -> None:
        self.kind = kind
        self.config_key = config_key
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("lenet")`` above a factory function."""

        def wrap(fn: T) -> T:
            assert name not in self._entries, f"{self.kind} {name!r} registered twice"
            self._entries[name] = fn
            return fn

        return wrap

    def get(self, name: str) -> T:
        """The factory for ``name``; an unknown name raises an ``UnknownNameError`` (a KeyError)
        listing the known ones."""
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r} ({self.config_key}).{hint} "
                f"Known {self.kind}s: {', '.join(sorted(self._entries))}. "
                f"Set {self.config_key} to one of these, or register a new one with "
                f"@register_{self.kind}(name)."
            )
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
