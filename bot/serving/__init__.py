"""The local scoring server: MLflow pyfunc models per (model, environment), blue/green and canary.

`promobot serve-models --port PORT [--host H] [--state DIR] [--tracking-uri URI]
[--environment ENV]` runs it; `bot.targets.local.LocalTarget` drives it over HTTP.

Environments: one server serves every environment. Each model route takes
`?environment=NAME`; without it the server's `--environment` (default
`production`) applies. `LocalTarget` always passes the manifest's environment.

Public API
- `POST /v1/models/{model}/predict[?environment=E][&version=V]`: body
  `{"records": [{column: value}, ...]}`, a bare list of records, or MLflow's
  `{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`. Answers
  `{"model", "environment", "version", "predictions"}`. `version` pins a loaded
  version, bypassing the traffic shares (for checks, not for clients).
- `GET /v1/models` and `GET /v1/models/{model}`: loaded versions with their
  traffic share, requests, errors and p99 latency since they were loaded.
- `GET /metrics`: Prometheus text, per (model, environment, version):
  `promobot_serving_requests_total`, `promobot_serving_errors_total`,
  `promobot_serving_latency_seconds` (histogram), `promobot_serving_traffic_share`.
  An error is a prediction that failed: the version refused the input (400) or
  raised (500). Bodies that are not a table at all are refused before any
  version is chosen and count for none.

Admin API (for `LocalTarget`)
- `PUT /v1/admin/models/{model}/versions/{version}` `{"uri", "tracking_uri"?}`:
  copy the artifacts under the state directory, load, smoke-test with the
  model's input example (or a row built from its signature). Idempotent.
- `PUT /v1/admin/models/{model}/traffic` `{"traffic": {version: percent}}`:
  replace all shares at once (whole percentages adding up to 100).
- `DELETE /v1/admin/models/{model}/versions/{version}`: unload an idle version.

State: `<state dir>/serving-state.json` plus the artifacts under
`<state dir>/models/`; a restarted server loads them from disk and serves the
same shares, without needing the tracking server.
"""
