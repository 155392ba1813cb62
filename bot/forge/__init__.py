"""The forge: GitHub behind the `Forge` protocol (`bot.forge.base`), adapter in `bot.forge.github`."""
