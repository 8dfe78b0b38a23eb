"""Where every moto patch is installed, so that all of them can be taken back.

Tests compare moto's answers with and without the patches in one process; a patch
installed here is undone exactly (an attribute a class only inherited is removed
again, not left behind as a copy).
"""

from __future__ import annotations

from typing import Any

_ABSENT = object()
_INSTALLED: list[tuple[Any, str, Any]] = []


def install(owner: Any, name: str, value: Any) -> None:
    """Set ``owner.name`` (a class's or a module's) to ``value``, remembering what was there."""
    _INSTALLED.append((owner, name, vars(owner).get(name, _ABSENT)))
    setattr(owner, name, value)


def remove_all() -> None:
    """Undo every ``install``, newest first."""
    while _INSTALLED:
        owner, name, previous = _INSTALLED.pop()
        if previous is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)
