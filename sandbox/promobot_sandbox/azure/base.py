"""What every part of the sandbox Azure shares: JSON bodies and ARM's error answer."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class ArmError(Exception):
    """An error answered in ARM's format: `{"error": {"code": ..., "message": ...}}`,
    with `details` when Azure nests the cause
    (https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md#error-response-content)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[JsonDict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> JsonDict:
        """The JSON body of the answer."""
        error: JsonDict = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}
