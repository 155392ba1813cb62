"""Check the sandbox against GitHub's published descriptions.

`RestContract` validates a response body against the response schema of the matching
operation in the REST description subset (OpenAPI 3.0, converted to JSON Schema).
`WebhookContract` validates a webhook payload against octokit's draft-07 schemas.
Both answer with a list of problems (empty when valid), so a caller can collect them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

_ROOT_URI = "urn:github-rest"
# Path parameters that may span segments, when they end the path: file paths, branch
# names and the refs of the Git Data API. Every other parameter is one segment, so that
# `/commits/{ref}` never swallows `/commits/{sha}/check-runs`.
_GREEDY = {"path", "branch"}
# Operations the adapter uses beyond the subset, checked against a component schema.
_EXTRA_OPERATIONS: dict[tuple[str, str], tuple[str, int, str | None]] = {
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"): (
        "pull-request-review",
        200,
        None,
    ),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): ("issue-comment", 200, None),
    ("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): ("issue-comment", 200, None),
    ("GET", "/repos/{owner}/{repo}/deployments"): ("deployment", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}"): ("deployment", 200, None),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): (
        "deployment-status",
        200,
        "array",
    ),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): ("check-run", 200, None),
    ("GET", "/repos/{owner}/{repo}/statuses/{ref}"): ("status", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}"): ("short-blob", 200, None),
    ("GET", "/repos/{owner}/{repo}/labels"): ("label", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): ("label", 200, "array"),
    ("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): ("label", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"): (
        "pull-request-simple",
        200,
        "array",
    ),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/statuses"): ("status", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/check-runs"): (
        "check-run",
        200,
        "check_runs",
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}"): (
        "pull-request-review",
        200,
        None,
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits"): ("commit", 200, "array"),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses/{status_id}"): (
        "deployment-status",
        200,
        None,
    ),
    ("GET", "/user"): ("simple-user", 200, None),
    ("GET", "/users/{username}"): ("simple-user", 200, None),
    ("GET", "/orgs/{org}/teams/{team_slug}"): ("team", 200, None),
}


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _uri(value: object) -> bool:
    # The description itself gives `""` as the default of several `uri` fields
    # (deployment statuses' target_url, log_url, environment_url): GitHub sends it.
    return not isinstance(value, str) or value == "" or bool(urlparse(value).scheme)


def _format_checker() -> Any:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("uri")(_uri)
    return checker


def openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12: `nullable`, `oneOf`, refs to our root URI."""
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
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = _ROOT_URI + out["$ref"]
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str) and "$ref" not in out and "allOf" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_length: int
    responses: dict[int, Any]


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
    """The REST description subset, ready to validate response bodies."""

    def __init__(self, spec_path: Path) -> None:
        spec = json.loads(spec_path.read_text())
        schemas = {
            name: openapi_to_json_schema(s) for name, s in spec["components"]["schemas"].items()
        }
        root = {"components": {"schemas": schemas}}
        self._registry: Registry[Any] = Registry().with_resource(
            _ROOT_URI, Resource.from_contents(root, default_specification=DRAFT202012)
        )
        self._schemas = schemas
        self._checker = _format_checker()
        self._validators: dict[int, Any] = {}
        self._keep: list[Any] = []
        self._components: dict[str, Any] = {}
        operations = []
        for op in spec["operations"]:
            operations.append(self._operation(op["method"], op["path"], _response_schemas(op)))
        for (method, path), (name, status, shape) in _EXTRA_OPERATIONS.items():
            schema: Any = {"$ref": f"{_ROOT_URI}#/components/schemas/{name}"}
            if shape == "array":
                schema = {"type": "array", "items": schema}
            elif shape is not None:
                schema = {
                    "type": "object",
                    "required": ["total_count", shape],
                    "properties": {
                        "total_count": {"type": "integer"},
                        shape: {"type": "array", "items": schema},
                    },
                }
            operations.append(self._operation(method, path, {status: schema, 201: schema}))
        self._operations = sorted(operations, key=lambda o: -o.literal_length)

    def _operation(self, method: str, template: str, responses: dict[int, Any]) -> _Operation:
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        return _Operation(method.upper(), template, _compile(template), literal, responses)

    def match(self, method: str, path: str) -> _Operation | None:
        for operation in self._operations:
            if operation.method == method.upper() and operation.pattern.match(path):
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
            schema = operation.responses.get(status)
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
            self._components[name] = {"$ref": f"{_ROOT_URI}#/components/schemas/{name}"}
        return self._components[name]

    def validate_component(self, name: str, document: Any) -> list[str]:
        return self.validate(self._component(name), document, name)

    def is_covered(self, method: str, path: str) -> bool:
        return self.match(method, path) is not None


def _location(error: Any) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "<root>"


def _response_schemas(op: dict[str, Any]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for code, response in op["responses"].items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            out[int(code)] = openapi_to_json_schema(schema)
    return out


class WebhookContract:
    """octokit's webhook payload schemas (draft-07), with refs resolved from `schemas/`."""

    def __init__(self, schemas_dir: Path) -> None:
        resources = []
        for path in schemas_dir.rglob("*.schema.json"):
            contents = json.loads(path.read_text())
            contents.pop("$id", None)
            relative = path.relative_to(schemas_dir).as_posix()
            # Event schemas refer to `common/...` from the schemas root; common schemas
            # refer to each other by bare name: flat URIs for the former give both.
            flat = relative if relative.startswith("common/") else relative.replace("/", "__")
            uri = f"file:///schemas/{flat}"
            resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT7)))
        self._registry: Registry[Any] = Registry().with_resources(resources)
        self._available = {uri.removeprefix("file:///schemas/") for uri, _ in resources}
        self._checker = _format_checker()

    def schema_for(self, event: str, action: str | None) -> str | None:
        """The schema file for an event (and action), or None when octokit's copy lacks it."""
        for candidate in (f"{event}__{action}.schema.json", f"{event}__event.schema.json"):
            if candidate in self._available:
                return candidate
        return None

    def check(self, event: str, payload: Any) -> list[str]:
        action = payload.get("action") if isinstance(payload, dict) else None
        name = self.schema_for(event, action)
        if name is None:
            return []
        validator = jsonschema.Draft7Validator(
            {"$ref": f"file:///schemas/{name}"},
            registry=self._registry,
            format_checker=self._checker,
        )
        return [
            f"{event}.{action}: {_location(error)}: {error.message[:300]}"
            for error in validator.iter_errors(payload)
        ]
