"""A small registry used for every seam of the package.

Structure generators, labelers, autotest properties and analyses register themselves with a
decorator; the CLI lists a registry to know what exists, so adding an entry never touches a
dispatcher::

    STRUCTURES = Registry("structure generator")

    @STRUCTURES.register("llzo-cubic", summary="ordered cubic LLZO (Ia-3d framework)")
    def build_cubic_llzo(...): ...

    STRUCTURES.get("llzo-cubic")  # -> the function
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from dpgen_llzo.errors import UserInputError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object with its name and a one-line summary for listings."""

    name: str
    obj: T
    summary: str


class Registry(Generic[T]):
    """Name → object table filled by a decorator.

    Parameters
    ----------
    kind
        What the registry holds, used in messages ("labeler", "structure generator").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str, *, summary: str | None = None, aliases: tuple[str, ...] = ()
    ) -> Callable[[T], T]:
        """Return a decorator registering its argument under ``name`` (and ``aliases``)."""

        def decorator(obj: T) -> T:
            if name in self._entries or name in self._aliases:
                raise RuntimeError(f"{self.kind} {name!r} is registered twice")
            doc = summary
            if doc is None:
                doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()[0:1]
                doc = doc[0] if doc else ""
            self._entries[name] = Entry(name, obj, doc)
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return decorator

    def get(self, name: str) -> T:
        """Return the object registered under ``name``.

        Raises
        ------
        UserInputError
            If nothing is registered under that name; the message lists the known names.
        """
        key = self._aliases.get(name, name)
        if key not in self._entries:
            raise UserInputError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or '(none)'}"
            )
        return self._entries[key].obj

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        """Registered entries, sorted by name."""
        for name in self.names():
            yield self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __len__(self) -> int:
        return len(self._entries)
