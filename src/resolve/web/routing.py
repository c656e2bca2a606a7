"""Every route declares who may reach it; the role-matrix test reads these declarations.

``@rule(access, operation)`` marks an endpoint: ``"public"`` (login page, static
files, the OpenAPI document), ``"link"`` (a participant's personal link: the
token in the path is the credential), ``"user"`` (any signed-in account) or
``"operation"`` (signed in *and* the role may run ``operation``,
:data:`resolve.ops.permissions.MATRIX`). The service layer checks the
permission again below the route: the rule decides the HTTP answer early
(401/403) and documents the route; it is not the only check.

Examples
--------
>>> from resolve.ops.permissions import Operation
>>> @rule("operation", Operation.randomise)
... def endpoint() -> None: ...
>>> rule_of(endpoint).operation.value
'randomise'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from resolve.ops.permissions import Operation

__all__ = ["Access", "Rule", "rule", "rule_of"]

Access = Literal["public", "link", "user", "operation"]
F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "__resolve_rule__"


@dataclass(frozen=True)
class Rule:
    """Who may reach a route."""

    access: Access
    operation: Operation | None = None
    #: Answer 404 rather than 403 when refusing (existence itself would reveal something).
    hide: bool = False


def rule(
    access: Access, operation: Operation | None = None, *, hide: bool = False
) -> Callable[[F], F]:
    """Attach a :class:`Rule` to an endpoint function."""
    if (access == "operation") != (operation is not None):
        raise ValueError("an 'operation' rule names its operation; other rules name none")

    def mark(fn: F) -> F:
        setattr(fn, _ATTR, Rule(access, operation, hide))
        return fn

    return mark


def rule_of(endpoint: Callable[..., Any]) -> Rule | None:
    """The rule of an endpoint, or None when it has none (a test failure)."""
    found = getattr(endpoint, _ATTR, None)
    return found if isinstance(found, Rule) else None
