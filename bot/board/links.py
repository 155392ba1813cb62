"""Web addresses of what the board links to: commits, pull requests, files at a commit.

GitHub's pages live beside its API: `https://api.github.com` serves `https://github.com`,
and GitHub Enterprise Server's `https://HOST/api/v3` serves `https://HOST`
(https://docs.github.com/en/enterprise-server@latest/rest/quickstart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

API_HOST = "api.github.com"
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def repository_web_url(api_base_url: str, repository: str) -> str:
    """The repository's web page for a REST root (`https://api.github.com`, `.../api/v3`)."""
    parts = urlsplit(api_base_url.rstrip("/"))
    host, path = parts.netloc, parts.path
    if host == API_HOST:
        host = "github.com"
    path = path.removesuffix("/api/v3")
    return urlunsplit((parts.scheme, host, f"{path}/{repository}", "", ""))


def without_credentials(text: str) -> str:
    """`https://user:token@host/x` -> `https://***@host/x`: what may be shown of a URL."""
    return _CREDENTIALS.sub("***@", text)


@dataclass(frozen=True)
class Links:
    """Pages of one repository; every link is None when its web address is unknown."""

    web_url: str | None

    def commit(self, sha: str) -> str | None:
        """A commit's page."""
        return None if self.web_url is None else f"{self.web_url}/commit/{sha}"

    def pull(self, number: int | None) -> str | None:
        """A pull request's page."""
        if self.web_url is None or number is None:
            return None
        return f"{self.web_url}/pull/{number}"

    def blob(self, sha: str, path: str) -> str | None:
        """A file as it is at a commit."""
        return None if self.web_url is None else f"{self.web_url}/blob/{sha}/{quote(path)}"
