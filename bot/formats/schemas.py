"""JSON Schemas of our file formats, generated from the models and committed for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.domain.manifest import ModelManifest
from bot.domain.policy import PolicyFile
from bot.domain.record import DecisionRecord

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "manifest": ModelManifest,
    "policy": PolicyFile,
    "decision": DecisionRecord,
}
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of `manifest`, `policy` or `decision`, as editors read it."""
    model = SCHEMA_MODELS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://promobot.dev/schemas/{kind}.schema.json"
    return schema


def schema_text(kind: str) -> str:
    """The schema as the committed file holds it."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"


def committed_schema_path(kind: str) -> Path:
    """`bot/schemas/<kind>.schema.json`."""
    return SCHEMA_DIR / f"{kind}.schema.json"
