"""The bot service: webhook endpoints, worker threads, health and metrics.

`create_app(settings, handler)` in `bot.server.app`; the handler seam (what the workflows
plug in) is described in `bot.server.handlers`; settings in `bot.server.settings`.
"""
