"""Names Azure ML accepts for online endpoints and their deployments.

An endpoint or deployment name must "begin with a letter, be 3-32 characters in length,
only consist of letters and numbers", and "single dashes like my-endpoint-name are
accepted" (https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-online-endpoints-and-batch-endpoints);
a name may not end with a dash. An endpoint name is also "unique within an Azure region"
across every customer (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-online-endpoints#define-an-endpoint),
which no rule can check: a prefix of the team or workspace keeps it clear of others.
"""

from __future__ import annotations

import hashlib
import re

NAME_RULE = (
    "start with a letter, have 3-32 characters, use only letters, digits and single dashes, "
    "and end with a letter or digit"
)
"""The rule, as an error message states it."""

MAX_NAME = 32
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
_PLAIN_VERSION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DIGEST_LENGTH = 8
_PREFIX = "v-"


def name_problem(name: str) -> str | None:
    """Why Azure ML refuses `name` for an endpoint or a deployment; None when it accepts it."""
    if not 3 <= len(name) <= MAX_NAME:
        return f"has {len(name)} characters; Azure ML names have 3-{MAX_NAME}"
    if not name[0].isascii() or not name[0].isalpha():
        return f"starts with {name[0]!r}; Azure ML names start with a letter"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"holds {shown}; Azure ML names use only letters, digits and '-'"
    if "--" in name:
        return "holds '--'; Azure ML names use single dashes"
    if name.endswith("-"):
        return "ends with '-'; Azure ML names end with a letter or digit"
    return None


def is_valid_name(name: str) -> bool:
    """Whether Azure ML accepts `name` for an endpoint or a deployment."""
    return _NAME.match(name) is not None and "--" not in name


def endpoint_name_problem(endpoint: str) -> str | None:
    """Why `endpoint` cannot name an Azure ML online endpoint, as a sentence that says how to
    fix it; None when Azure ML accepts it."""
    problem = name_problem(endpoint)
    if problem is None:
        return None
    return f"endpoint name {endpoint!r} {problem}: an Azure ML endpoint name must {NAME_RULE}"


def deployment_name(version: str) -> str:
    """The deployment that holds `version`: `v-<version>` when that is a valid name, else
    `v-<the version's letters and digits, shortened>-<hash of the whole version>`.

    The hash keeps versions apart that differ only in case, punctuation or past the 21st
    character, and a shortened name never ends with a dash.
    """
    plain = f"{_PREFIX}{version}"
    if _PLAIN_VERSION.match(version) and len(plain) <= MAX_NAME:
        return plain
    slug = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")
    digest = hashlib.sha256(version.encode()).hexdigest()[:_DIGEST_LENGTH]
    room = MAX_NAME - len(_PREFIX) - 1 - _DIGEST_LENGTH
    slug = slug[:room].rstrip("-")
    return f"{_PREFIX}{slug}-{digest}" if slug else f"{_PREFIX}{digest}"
