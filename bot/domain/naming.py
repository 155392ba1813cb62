"""Which model, environment and version names the bot accepts, before any work.

A model name and an environment become a path (`model-manifests/<environment>/<model>.yaml`)
and a branch (`promobot/<environment>/<model>`), so each must be one path component that
git accepts in a ref: `git check-ref-format` refuses a component that starts with `.`,
ends with `.` or `.lock`, or holds `..`, `@{`, a control character, a space or any of
``~^:?*[\\``. Registries accept more (MLflow takes `x..` or `x.lock`); such a version is
refused at intake with the reason, never retried.
"""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
"""Model, environment and endpoint names: lower case, digits, `.`, `_`, `-`; at most 100."""
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$"
"""Registry versions: letters, digits, `.`, `_`, `-`; at most 128."""

_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)
RESERVED_ENVIRONMENTS = frozenset({"revert"})
"""`promobot/revert/<n>` names revert branches, so `revert` cannot be an environment."""


def ref_component_problem(value: str) -> str | None:
    """Why git refuses `value` as one component of a ref name; None when it accepts it."""
    if value.startswith("."):
        return "starts with `.`"
    if value.endswith("."):
        return "ends with `.`"
    if value.endswith(".lock"):
        return "ends with `.lock`"
    if ".." in value:
        return "holds `..`"
    if "@{" in value or value == "@":
        return "holds `@{`" if "@{" in value else "is `@`"
    bad = sorted({c for c in value if ord(c) < 0x20 or ord(c) == 0x7F or c in " ~^:?*[\\/"})
    if bad:
        return "holds " + ", ".join(repr(c) for c in bad)
    return None


def name_problem(kind: str, value: str) -> str | None:
    """Why `value` cannot be a model or environment name (`kind` says which); None if it can."""
    if not _NAME.match(value):
        return (
            f"{kind} {value!r} must be 1-100 characters of lower-case letters, digits, "
            "`.`, `_` and `-`, starting with a letter or digit"
        )
    problem = ref_component_problem(value)
    if problem is not None:
        return f"{kind} {value!r} {problem}, which git refuses in a branch name"
    if kind == "environment" and value in RESERVED_ENVIRONMENTS:
        return f"environment {value!r} is reserved for the bot's revert branches"
    return None


def version_problem(value: str) -> str | None:
    """Why `value` cannot be a version; None when it can."""
    if not _VERSION.match(value):
        return (
            f"version {value!r} must be 1-128 letters, digits, `.`, `_` and `-`, "
            "starting with a letter or digit"
        )
    problem = ref_component_problem(value)
    return None if problem is None else f"version {value!r} {problem}"


def proposal_problem(model: str, version: str, environment: str) -> str | None:
    """The first reason the bot cannot propose `version` of `model` for `environment`."""
    return (
        name_problem("model", model)
        or name_problem("environment", environment)
        or version_problem(version)
    )
