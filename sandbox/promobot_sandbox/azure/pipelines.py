"""Azure Pipelines definitions the sandbox knows, with the runtime parameters they declare.

A YAML pipeline declares its runtime parameters under `parameters:`; a run may only set
those, each to a value of its type and, when the declaration lists `values`, one of
them; a parameter without a default must be given
(https://learn.microsoft.com/azure/devops/pipelines/process/runtime-parameters).
Run Pipeline refuses anything else with 400 before queueing a run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PipelineParameter(BaseModel):
    """One runtime parameter of a pipeline's YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="`parameters[].name`.")
    type: Literal["string", "number", "boolean", "object"] = Field(
        default="string", description="`parameters[].type`."
    )
    default: Any = Field(default=None, description="`parameters[].default`; None: required.")
    values: list[Any] | None = Field(default=None, description="`parameters[].values`, if any.")


class PipelineSeed(BaseModel):
    """A pipeline of the sandbox's organization."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=1, description="The pipeline (definition) id.")
    name: str = Field(default="", description="Its name; `pipeline-<id>` when empty.")
    folder: str = Field(default="\\", description="Its folder.")
    parameters: list[PipelineParameter] = Field(
        default_factory=list, description="The runtime parameters its YAML declares."
    )

    @property
    def display_name(self) -> str:
        """The name Azure DevOps shows."""
        return self.name or f"pipeline-{self.id}"


def parameter_problems(pipeline: PipelineSeed, given: dict[str, Any]) -> list[str]:
    """What Azure Pipelines says about `templateParameters` for this pipeline, if anything."""
    declared = {p.name.lower(): p for p in pipeline.parameters}
    problems = [f"Unexpected parameter '{name}'" for name in given if name.lower() not in declared]
    by_name = {name.lower(): value for name, value in given.items()}
    for key, parameter in declared.items():
        if key not in by_name:
            if parameter.default is None and not parameter.values:
                problems.append(f"A value for the '{parameter.name}' parameter must be provided.")
            continue
        if not _is_valid(parameter, by_name[key]):
            problems.append(
                f"The '{parameter.name}' parameter value '{by_name[key]}' is not a valid value."
            )
    return problems


def _is_valid(parameter: PipelineParameter, value: Any) -> bool:
    text = str(value)
    if parameter.type == "boolean" and text.lower() not in ("true", "false"):
        return False
    if parameter.type == "number":
        try:
            float(text)
        except ValueError:
            return False
    return parameter.values is None or text in [str(v) for v in parameter.values]
