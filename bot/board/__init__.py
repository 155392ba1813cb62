"""The promotion board: a read-only page of every model in every environment.

`promobot serve` mounts it at `/` (`bot.board.routes`); `bot.board.wiring` builds it from
the settings. Nothing here writes to git, GitHub or a target.
"""
