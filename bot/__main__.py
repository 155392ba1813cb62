"""`python -m bot`: the same as the `promobot` command."""

from bot.cli.main import app

if __name__ == "__main__":
    app(prog_name="promobot")
