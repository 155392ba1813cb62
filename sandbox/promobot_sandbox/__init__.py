"""Local stand-ins of the services promobot talks to, speaking their real HTTP APIs."""
