"""Check the sandbox against GitHub's published descriptions.

`RestContract` validates a response body against the response schema of the matching
operation in GitHub's REST description (`@octokit/openapi`, OpenAPI 3.0, converted to
JSON Schema). `WebhookContract` validates a webhook payload against octokit's draft-07
schemas (`@octokit/webhooks-schemas`), `WebhookDescription` against GitHub's own webhook
description (`@octokit/openapi-webhooks`). Each answers with a list of problems (empty
when valid), so a caller can collect them.

The descriptions are npm packages pinned in `.ci/package.json` and installed by
`bash .ci/setup` into `.ci/node_modules`; `published_file` finds them there.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema  # type: ignore[import-untyped]
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PINS = REPOSITORY_ROOT / ".ci" / "package.json"
NPM_CACHE = REPOSITORY_ROOT / ".ci" / "node_modules"
REST_DESCRIPTION = ("@octokit/openapi", "generated/api.github.com.json")
WEBHOOK_SCHEMAS = ("@octokit/webhooks-schemas", "schema.json")
WEBHOOK_EXAMPLES = ("@octokit/webhooks-examples", "api.github.com/index.json")
WEBHOOK_DESCRIPTION = ("@octokit/openapi-webhooks", "generated/api.github.com.json")

_SCHEMAS_URI = "urn:openapi:components:schemas:"
_WEBHOOKS_URI = "urn:octokit-webhooks-schemas"
_METHODS = ("get", "put", "post", "patch", "delete")
# Path parameters that may span segments, when they end the path: file paths, branch
# names and the refs of the Git Data API. Every other parameter is one segment, so that
# `/commits/{ref}` never swallows `/commits/{sha}/check-runs`.
_GREEDY = {"path", "branch"}
# Routes GitHub serves under a second path that the description leaves out: the legacy
# `GET /repos/{owner}/{repo}/statuses/{ref}` answers like the documented
# "List commit statuses for a reference" (PyGithub's `Commit.get_statuses` calls it).
_ALIASES = {
    ("GET", "/repos/{owner}/{repo}/statuses/{ref}"): "/repos/{owner}/{repo}/commits/{ref}/statuses",
}


def published_file(package: str, relative: str) -> Path:
    """A file of an npm package pinned in `.ci/package.json`; the test fails, naming the
    command that installs it, when the package is missing or not the pinned version."""
    pinned = json.loads(PINS.read_text())["dependencies"][package]
    hint = "run `bash .ci/setup` to install the pinned reference data into .ci/node_modules"
    manifest = NPM_CACHE / package / "package.json"
    if not manifest.is_file():
        pytest.fail(f"{package}@{pinned} is not installed: {hint}", pytrace=False)
    installed = json.loads(manifest.read_text())["version"]
    if installed != pinned:
        pytest.fail(
            f"{package}@{installed} is installed but .ci/package.json pins {pinned}: {hint}",
            pytrace=False,
        )
    path = NPM_CACHE / package / relative
    if not path.is_file():
        pytest.fail(f"{package}@{pinned} has no {relative}", pytrace=False)
    return path


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme)


def _uri_or_empty(value: object) -> bool:
    # The REST description gives `""` as the default of several `uri` fields
    # (deployment statuses' target_url, log_url, environment_url): GitHub sends it.
    # octokit's schemas say so explicitly (`oneOf: [{enum: [""]}, {format: uri}]`), so
    # they get the strict check, or `""` would match both alternatives.
    return value == "" or _uri(value)


def _format_checker(*, empty_uri: bool) -> Any:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("uri")(_uri_or_empty if empty_uri else _uri)
    return checker


def _schema_ref(name: str) -> dict[str, Any]:
    """A component schema by name; `name[]` is an array of it."""
    if name.endswith("[]"):
        return {"type": "array", "items": _schema_ref(name[:-2])}
    return {"$ref": _SCHEMAS_URI + name}


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12: `nullable`, `oneOf`, component refs."""
    if isinstance(node, list):
        return [openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: openapi_to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "discriminator", "xml")
        and not key.startswith("x-")
    }
    if "oneOf" in out:
        # GitHub's alternatives overlap (every basic-error is also a valid
        # repository-rule-violation-error), so real answers match several: read as anyOf.
        out["anyOf"] = out.pop("oneOf")
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        out["$ref"] = _SCHEMAS_URI + ref.removeprefix("#/components/schemas/")
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str) and "$ref" not in out and "allOf" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


class _ComponentSchemas:
    """A description's component schemas as JSON Schema resources, each converted once:
    on first use (`retrieve`) or all together (`everything`)."""

    def __init__(self, components: dict[str, Any]) -> None:
        self._components = components
        self._converted: dict[str, Resource[Any]] = {}

    def retrieve(self, uri: str) -> Resource[Any]:
        if uri not in self._converted:
            name = uri.removeprefix(_SCHEMAS_URI)
            if not uri.startswith(_SCHEMAS_URI) or name not in self._components:
                raise LookupError(uri)
            schema = openapi_to_json_schema(self._components[name])
            self._converted[uri] = Resource.from_contents(schema, default_specification=DRAFT202012)
        return self._converted[uri]

    def everything(self) -> list[tuple[str, Resource[Any]]]:
        return [(uri, self.retrieve(uri)) for uri in map(_SCHEMAS_URI.__add__, self._components)]


@dataclass
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_length: int
    raw_responses: dict[str, Any]
    responses: dict[int, Any] | None = field(default=None)


def _compile(template: str) -> re.Pattern[str]:
    regex = ""
    parts = re.split(r"(\{[^}]+\})", template)
    for index, part in enumerate(parts):
        if part.startswith("{"):
            name = part[1:-1]
            last = index >= len(parts) - 2 and not parts[-1]
            greedy = last and (name in _GREEDY or (name == "ref" and "/git/" in template))
            regex += "(.+)" if greedy else "([^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class RestContract:
    """GitHub's REST description, ready to validate response bodies.

    `narrowed` names answers, by (method, path template, status), to check against a
    component schema (`name`, or `name[]` for an array of it) instead of the one the
    operation gives: a known gap of the checked server or an erratum of the description,
    listed where the contract is built, never silently.
    """

    def __init__(
        self, spec_path: Path, *, narrowed: dict[tuple[str, str, int], str] | None = None
    ) -> None:
        spec = json.loads(spec_path.read_text())
        self._narrowed = {key: _schema_ref(name) for key, name in (narrowed or {}).items()}
        self._shared_responses: dict[str, Any] = spec["components"]["responses"]
        # Every component up front (a fifth of a second): a registry that holds them all
        # validates several times faster than one that retrieves them on each reference.
        schemas = _ComponentSchemas(spec["components"]["schemas"])
        self._registry: Registry[Any] = Registry().with_resources(schemas.everything())
        self._checker = _format_checker(empty_uri=True)
        self._validators: dict[int, Any] = {}
        self._keep: list[Any] = []
        self._components: dict[str, Any] = {}
        by_method: dict[str, list[_Operation]] = {}
        for template, item in spec["paths"].items():
            for method in _METHODS:
                if method in item:
                    operation = _operation(method, template, item[method]["responses"])
                    by_method.setdefault(operation.method, []).append(operation)
        for (method, alias), documented in _ALIASES.items():
            responses = spec["paths"][documented][method.lower()]["responses"]
            by_method.setdefault(method, []).append(_operation(method, alias, responses))
        self._operations = {
            method: sorted(operations, key=lambda o: -o.literal_length)
            for method, operations in by_method.items()
        }

    def match(self, method: str, path: str) -> _Operation | None:
        for operation in self._operations.get(method.upper(), []):
            if operation.pattern.match(path):
                return operation
        return None

    def check(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        """Problems with one response; `path` is relative to the API root (`/repos/...`)."""
        if not body:
            return []
        try:
            document = json.loads(body)
        except ValueError:
            return [f"{method} {path} → {status}: body is not JSON"]
        operation = self.match(method, path)
        schema: Any = None
        if operation is not None:
            schema = self._narrowed.get((operation.method, operation.template, status))
            schema = schema or self._responses(operation).get(status)
        if schema is None and status >= 400:
            schema = self._component("validation-error" if status == 422 else "basic-error")
        if schema is None:
            return []
        return self.validate(schema, document, f"{method} {path} → {status}")

    def validate(self, schema: Any, document: Any, where: str) -> list[str]:
        key = id(schema)
        validator = self._validators.get(key)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                schema, registry=self._registry, format_checker=self._checker
            )
            # Keep the schema alive with its validator so the id stays unique.
            self._validators[key] = validator
            self._keep.append(schema)
        return [
            f"{where}: {_location(error)}: {error.message[:300]}"
            for error in validator.iter_errors(document)
        ]

    def _component(self, name: str) -> Any:
        if name not in self._components:
            self._components[name] = _schema_ref(name)
        return self._components[name]

    def validate_component(self, name: str, document: Any) -> list[str]:
        return self.validate(self._component(name), document, name)

    def is_covered(self, method: str, path: str) -> bool:
        return self.match(method, path) is not None

    def _responses(self, operation: _Operation) -> dict[int, Any]:
        if operation.responses is None:
            operation.responses = {}
            for code, raw in operation.raw_responses.items():
                response = raw
                if "$ref" in raw:
                    response = self._shared_responses[raw["$ref"].rsplit("/", 1)[-1]]
                content = response.get("content", {}).get("application/json", {})
                if code.isdigit() and "schema" in content:
                    operation.responses[int(code)] = openapi_to_json_schema(content["schema"])
        return operation.responses


def _operation(method: str, template: str, responses: dict[str, Any]) -> _Operation:
    literal = len(re.sub(r"\{[^}]+\}", "", template))
    return _Operation(method.upper(), template, _compile(template), literal, responses)


def _location(error: Any) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "<root>"


class WebhookContract:
    """octokit's webhook payload schemas: one draft-07 document whose definitions are
    named `<event>$<action>`, or `<event>$event` for events without actions.

    `tolerated` problems (their exact text) are let through: known gaps of the checked
    sender, listed where the contract is built, never silently.
    """

    def __init__(self, schema_path: Path, *, tolerated: frozenset[str] = frozenset()) -> None:
        document = json.loads(schema_path.read_text())
        self._tolerated = tolerated
        self._definitions = frozenset(document["definitions"])
        resource = Resource.from_contents(document, default_specification=DRAFT7)
        self._registry: Registry[Any] = Registry().with_resource(_WEBHOOKS_URI, resource)
        self._checker = _format_checker(empty_uri=False)
        self._validators: dict[str, Any] = {}

    def schema_for(self, event: str, action: str | None) -> str | None:
        """The definition for an event (and action), or None when octokit has none."""
        for candidate in (f"{event}${action}", f"{event}$event"):
            if candidate in self._definitions:
                return candidate
        return None

    def check(self, event: str, payload: Any) -> list[str]:
        action = payload.get("action") if isinstance(payload, dict) else None
        name = self.schema_for(event, action)
        if name is None:
            return []
        validator = self._validators.get(name)
        if validator is None:
            validator = jsonschema.Draft7Validator(
                {"$ref": f"{_WEBHOOKS_URI}#/definitions/{name}"},
                registry=self._registry,
                format_checker=self._checker,
            )
            self._validators[name] = validator
        problems = [
            f"{event}.{action}: {_location(error)}: {error.message[:300]}"
            for error in validator.iter_errors(payload)
        ]
        return [problem for problem in problems if problem not in self._tolerated]


class WebhookDescription:
    """GitHub's own webhook description (OpenAPI 3.0): the payload schema of each webhook,
    named `<event>-<action>` with dashes (`pull-request-closed`, `push`)."""

    def __init__(self, spec_path: Path) -> None:
        spec = json.loads(spec_path.read_text())
        self._webhooks: dict[str, Any] = spec["webhooks"]
        schemas = _ComponentSchemas(spec["components"]["schemas"])
        self._registry: Registry[Any] = Registry(retrieve=schemas.retrieve)
        self._checker = _format_checker(empty_uri=False)

    def check(self, event: str, payload: Any) -> list[str]:
        action = payload.get("action") if isinstance(payload, dict) else None
        names = [f"{event}-{action}".replace("_", "-"), event.replace("_", "-")]
        name = next((n for n in names if n in self._webhooks), None)
        if name is None:
            return [f"{event}.{action}: GitHub's description has no such webhook"]
        body = self._webhooks[name]["post"]["requestBody"]["content"]["application/json"]
        validator = jsonschema.Draft202012Validator(
            openapi_to_json_schema(body["schema"]),
            registry=self._registry,
            format_checker=self._checker,
        )
        return [
            f"{name}: {_location(error)}: {error.message[:300]}"
            for error in validator.iter_errors(payload)
        ]


class OctokitExamples:
    """octokit's example payloads (`@octokit/webhooks-examples`): for each event, a list in
    the package's order. Every read is a fresh copy, so a test may change it."""

    def __init__(self, index_path: Path) -> None:
        definitions = json.loads(index_path.read_text())
        self._by_event: dict[str, list[Any]] = {d["name"]: d["examples"] for d in definitions}

    @property
    def events(self) -> list[str]:
        return sorted(self._by_event)

    def of(self, event: str, action: str | None = None) -> list[Any]:
        """Every example of an event, or of one action of it."""
        examples = self._by_event[event]
        chosen = [e for e in examples if action is None or e.get("action") == action]
        assert chosen, f"octokit has no example of {event} {action or ''}"
        return copy.deepcopy(chosen)

    def numbered(self, event: str) -> Iterator[tuple[int, Any]]:
        """(position in the package, example) for every example of an event."""
        yield from enumerate(copy.deepcopy(self._by_event[event]))
