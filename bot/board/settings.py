"""Settings of the promotion board: the `board` section of `bot.settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class BoardSettings(BaseModel):
    """Whether `promobot serve` shows the board, who may see it, and how fresh it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = Field(
        default=None,
        description="Serve the read-only promotion board at `/` of `promobot serve`. Unset: "
        "served when a token guards it; `true` serves it open (behind your proxy), `false` "
        "never. The board shares its port with the webhooks, which GitHub must reach.",
    )

    @property
    def is_served(self) -> bool:
        """Whether `promobot serve` mounts the board."""
        return self.enabled if self.enabled is not None else self.token is not None

    token: SecretStr | None = Field(
        default=None,
        description="The board asks for it as `Authorization: Bearer` or through its login "
        "form; none: open to whoever reaches the port (put it behind your proxy then).",
    )
    cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a read of git, GitHub and the targets is reused: page views "
        "within it cost no request.",
    )
    git_url: str | None = Field(
        default=None,
        description="What the board's git mirror fetches; default: the `origin` of "
        "PROMOBOT_REPO, else PROMOBOT_REPO itself.",
    )
