"""Errors of the scoring server, each with the HTTP status it answers with."""

from __future__ import annotations

from bot.errors import PromobotError


class ServingError(PromobotError):
    """Base: `status` is the HTTP status code of the answer."""

    status = 500


class BadPayload(ServingError):
    """The request body is not something a model can score."""

    status = 400


class NotServing(ServingError):
    """No version of the model serves in that environment, or the version is not loaded."""

    status = 404


class Conflict(ServingError):
    """The request contradicts what the server holds (e.g. unloading a serving version)."""

    status = 409


class LoadFailed(ServingError):
    """A version could not be fetched, loaded, or failed its smoke test."""

    status = 422


class PredictionFailed(ServingError):
    """The serving version raised while scoring."""

    status = 500
