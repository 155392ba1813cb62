"""The workspace's MLflow-compatible tracking service: runs, and the files a run logged.

Azure ML records what a training job logs in an MLflow tracking service whose URI is
the workspace's `mlFlowTrackingUri`; the MLflow run id is the job name. `runs/get`
is MLflow's REST call (https://mlflow.org/docs/latest/rest-api.html#get-run). A run's
files are read from its `artifact_uri` through MLflow's artifact repositories: a local
or object-store folder directly, Azure ML's own `azureml://` store only when the
`azureml-mlflow` plugin is installed
(https://learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-configure-tracking).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest

from bot.azure.clients import bearer_policy
from bot.azure.settings import AzureSettings
from bot.errors import PromobotError

JsonDict = dict[str, Any]


class ArtifactUnreadable(PromobotError):
    """A run's file could not be read from where its artifacts are stored."""


class WorkspaceTracking:
    """Reads runs of the workspace's tracking service over its REST API."""

    def __init__(
        self, settings: AzureSettings, credential: TokenCredential, ml_client: Any
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._ml = ml_client
        self._client: PipelineClient[Any, Any] | None = None
        self._url = ""

    def get_run(self, run_id: str) -> JsonDict | None:
        """The run as MLflow's `runs/get` returns it (`info`, `data`); None when unknown."""
        client = self._tracking_client()
        request = HttpRequest(
            "GET", f"{self._url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}
        )
        response = client.send_request(request)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PromobotError(
                f"the workspace's MLflow tracking answered {response.status_code} for run "
                f"{run_id}: {response.text()[:300]}"
            )
        run: JsonDict = response.json().get("run", {})
        return run

    def read_artifact(self, artifact_uri: str, path: str) -> str | None:
        """Text of the file `path` under a run's `artifact_uri`; None when it does not exist."""
        import mlflow.artifacts  # noqa: PLC0415 - MLflow is slow to import
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        with tempfile.TemporaryDirectory(prefix="promobot-artifact-") as folder:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{artifact_uri.rstrip('/')}/{path}", dst_path=folder
                )
            except MlflowException as exc:
                if "not found" in str(exc).lower() or "no such file" in str(exc).lower():
                    return None
                raise ArtifactUnreadable(f"cannot read {path} of the run: {exc}") from exc
            except OSError:
                return None
            file = Path(local)
            return file.read_text(encoding="utf-8") if file.is_file() else None

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _tracking_client(self) -> PipelineClient[Any, Any]:
        if self._client is None:
            workspace = self._ml.workspaces.get(self.settings.workspace)
            self._url = tracking_url(str(workspace.mlflow_tracking_uri), self.settings)
            policies = [
                RetryPolicy(retry_total=self.settings.max_retries),
                bearer_policy(self.settings, self._credential),
            ]
            self._client = PipelineClient(self._url, policies=policies)
        return self._client


def tracking_url(tracking_uri: str, settings: AzureSettings) -> str:
    """The HTTP URL of an `azureml://` MLflow tracking URI.

    The scheme follows the Resource Manager URL: https on Azure, http for the sandbox.
    """
    if not tracking_uri.startswith("azureml://"):
        return tracking_uri
    scheme = urlsplit(settings.arm_url).scheme or "https"
    return f"{scheme}://{tracking_uri.removeprefix('azureml://')}"
