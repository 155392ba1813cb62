"""Write manifests the way the bot commits them: stable key order, YAML 1.2 quoting."""

from __future__ import annotations

import io

from ruamel.yaml import YAML

from bot.domain.manifest import ModelManifest


def dump_manifest(manifest: ModelManifest) -> str:
    """The manifest as YAML text; `load_manifest_text` reads it back unchanged."""
    data = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
