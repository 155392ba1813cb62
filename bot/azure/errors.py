"""Azure's errors as promobot reports them, and which of them are worth another try.

ARM puts the useful text of a refused write in `error.details`: a quota shortfall on a
deployment PUT is `BadRequest: The request is invalid.` with Azure ML's own message,
itself a JSON problem document, in a detail
(https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors).
A scoring call through an endpoint can fail on the way: the front end answers 502, 503
or 504 in plain text, which azure-ai-ml raises as `MlException` (`validate_response` in
azure/ai/ml/_utils/_endpoint_utils.py), and a timeout or a dropped connection is
azure-core's `ServiceRequestError` or `ServiceResponseError`
(https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#http-status-codes).
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

TAKEN_NAME = "unique within a region"
"""Azure ML's words when another customer's endpoint in the region has the name."""


def azure_message(exc: BaseException) -> str:
    """Azure's own error text: `Code: message`, with the messages of its details."""
    error = getattr(exc, "error", None)
    if error is None or not getattr(error, "message", None):
        return str(getattr(exc, "message", None) or exc).strip()
    text = f"{error.code}: {error.message}" if error.code else str(error.message)
    details = [d for detail in (getattr(error, "details", None) or []) for d in _texts(detail)]
    details = [d for d in dict.fromkeys(details) if d and d not in text]
    return f"{text} ({'; '.join(details)})" if details else text


def _texts(detail: Any) -> list[str]:
    """The human text of one error detail: the strings of an embedded JSON problem document
    (`… error detail: {"errors": {"VmSize": ["Not enough quota …"]}}`), or its message."""
    message = str(getattr(detail, "message", None) or "")
    start = message.find("{")
    if start >= 0:
        try:
            document = json.loads(message[start:])
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("errors"), dict):
            return [str(m) for ms in document["errors"].values() for m in ms]
    nested = [t for d in (getattr(detail, "details", None) or []) for t in _texts(d)]
    return [message, *nested] if message else nested


def is_transient(exc: BaseException) -> bool:
    """Whether a scoring call failed on the way rather than in the model: a front end's
    plain-text answer, a timeout, a dropped connection, a 5xx or a 429."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429)
    return type(exc).__name__ == "MlException" and isinstance(exc, AzureError)


def is_taken_name(exc: BaseException) -> bool:
    """Whether Azure refused an endpoint because its name is taken in the region."""
    return isinstance(exc, HttpResponseError) and TAKEN_NAME in azure_message(exc)
