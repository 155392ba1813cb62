"""Load and validate manifests and policies, turning every mistake into a `Problem`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.domain.manifest import ModelManifest
from bot.domain.policy import PolicyFile
from bot.domain.record import RECORD_SUFFIX, DecisionRecord
from bot.domain.resolution import SourcedPolicy
from bot.formats.limits import RefusedFile, read_text_file
from bot.formats.problems import Problem, field_name
from bot.formats.yamlsource import YamlDocument, YamlSyntaxError, parse_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)

YAML_SUFFIXES = (".yaml", ".yml")

KINDS: dict[str, type[BaseModel]] = {
    "ModelManifest": ModelManifest,
    "PromotionPolicy": PolicyFile,
    "DecisionRecord": DecisionRecord,
}
CHECKED_SUFFIXES = (*YAML_SUFFIXES, RECORD_SUFFIX)
"""Files `promobot validate` reads: manifests and policies (YAML), decision records (JSON)."""


class InvalidFile(Exception):
    """A file failed validation; `problems` say where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Loaded:
    """A validated file: its model, where it came from, and the positions of its nodes."""

    path: str
    model: BaseModel
    document: YamlDocument


def _message(error: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling against `promobot schema`"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"{msg} (got {error.get('input')!r})"
    if kind == "finite_number":
        return "NaN and infinite values are not allowed; write a finite number"
    return str(msg).removeprefix("Value error, ")


def problems_from_validation(doc: YamlDocument, exc: ValidationError) -> list[Problem]:
    """One `Problem` per pydantic error, at the YAML node it concerns."""
    problems = []
    for error in exc.errors():
        loc = tuple(
            p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        line, col = doc.position(loc)
        problems.append(Problem(doc.path, line, col, field_name(loc), _message(error)))
    return problems


def validate_document(doc: YamlDocument, model: type[ModelT]) -> ModelT:
    """The document as `model`, or `InvalidFile`."""
    if not isinstance(doc.data, dict):
        raise InvalidFile([Problem(doc.path, 1, 1, "<document>", "expected a YAML mapping")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise InvalidFile(problems_from_validation(doc, exc)) from exc


def parse_text(text: str, path: str) -> Loaded:
    """Validate one file by its `kind`; raise `InvalidFile` with every problem found."""
    try:
        doc = parse_yaml(text, path)
    except YamlSyntaxError as exc:
        raise InvalidFile([exc.problem]) from exc
    if not isinstance(doc.data, dict):
        raise InvalidFile([Problem(path, 1, 1, "<document>", "expected a YAML mapping")])
    kind = doc.data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        line, col = doc.position(("kind",))
        known = ", ".join(KINDS)
        raise InvalidFile(
            [Problem(path, line, col, "kind", f"expected one of {known}, got {kind!r}")]
        )
    loaded = validate_document(doc, model)
    problems = _check_location(doc, loaded)
    if problems:
        raise InvalidFile(problems)
    return Loaded(path=path, model=loaded, document=doc)


def _check_location(doc: YamlDocument, model: BaseModel) -> list[Problem]:
    """A manifest's model and environment must match its path."""
    if not isinstance(model, ModelManifest):
        return []
    parts = PurePosixPath(doc.path).parts
    if "model-manifests" not in parts:
        return []
    rel = parts[parts.index("model-manifests") + 1 :]
    expected = model.path().split("/", 1)[1].split("/")
    if list(rel) == expected:
        return []
    line, col = doc.position(("model",))
    return [
        Problem(
            doc.path,
            line,
            col,
            "model",
            f"manifest of {model.model!r} in {model.environment!r} must live at {model.path()}",
        )
    ]


def load_manifest_text(text: str, path: str) -> ModelManifest:
    """Parse a manifest, or raise `InvalidFile`."""
    loaded = parse_text(text, path)
    if not isinstance(loaded.model, ModelManifest):
        raise InvalidFile([Problem(path, 1, 1, "kind", "expected kind: ModelManifest")])
    return loaded.model


def load_policy_text(text: str, path: str) -> PolicyFile:
    """Parse a policy, or raise `InvalidFile`."""
    loaded = parse_text(text, path)
    if not isinstance(loaded.model, PolicyFile):
        raise InvalidFile([Problem(path, 1, 1, "kind", "expected kind: PromotionPolicy")])
    return loaded.model


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Every `.yaml`/`.yml` and `.decision.json` entry named or found below the folders
    named, sorted.

    Folders are walked without following symbolic links; links, FIFOs and
    devices named like YAML files are listed too, so that reading them
    reports them instead of skipping them in silence.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            for folder, folders, files in os.walk(path):
                links = [name for name in folders if Path(folder, name).is_symlink()]
                found.extend(
                    Path(folder, name)
                    for name in (*files, *links)
                    if name.endswith(CHECKED_SUFFIXES)
                )
        else:
            found.append(path)
    return sorted(set(found))


def load_policy_texts(texts: dict[str, str]) -> list[SourcedPolicy]:
    """Policies from (path -> text), as read from a folder or from the forge at a ref."""
    policies: list[SourcedPolicy] = []
    problems: list[Problem] = []
    for path in sorted(texts):
        try:
            policies.append(SourcedPolicy(path, load_policy_text(texts[path], path)))
        except InvalidFile as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidFile(problems)
    return policies


def load_policy_folder(folder: Path) -> list[SourcedPolicy]:
    """Every policy under `folder` (normally `policies/`)."""
    files = yaml_files([folder]) if folder.is_dir() else []
    texts: dict[str, str] = {}
    refused: list[Problem] = []
    for file in files:
        shown = f"policies/{file.relative_to(folder).as_posix()}"
        try:
            texts[shown] = read_text_file(file, shown)
        except RefusedFile as exc:
            refused.append(exc.problem)
    if refused:
        raise InvalidFile(refused)
    return load_policy_texts(texts)
