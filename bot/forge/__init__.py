"""The forge: GitHub behind the `Forge` protocol (`bot.forge.base`); adapter: `bot.forge.github`."""
