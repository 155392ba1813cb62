"""Webhook authentication and minimal parsing of GitHub, MLflow and Azure Event Grid
deliveries into the domain events of `bot.webhooks.events`."""
