"""The local scoring server: MLflow pyfunc models per (model, environment), blue/green and canary.

`promobot serve-models` runs it; `bot.targets.local.LocalTarget` drives it over HTTP.
"""
