"""Team membership: whose approval counts and who may command the bot.

The team endpoints need an App's organization permission Members (read), and answer
404 both for "not a member" and for a team the caller cannot see; the second is a
policy naming a wrong team, which must be said rather than read as "not a member".
https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user
"""

from __future__ import annotations

from github import Github, GithubException

from bot.forge.errors import ForgeTeamNotFoundError


def is_team_member(gh: Github, org: str, team_slug: str, login: str) -> bool:
    """True for an active member or maintainer of the team (see `Forge.is_team_member`)."""
    team = gh.get_organization(org).get_team_by_slug(team_slug)
    try:
        membership = team.get_team_membership(login)
    except GithubException as error:
        if error.status != 404:
            raise
        _require_team(gh, org, team_slug)
        return False
    return membership.state == "active"


def _require_team(gh: Github, org: str, team_slug: str) -> None:
    try:
        gh.requester.requestJsonAndCheck("GET", f"/orgs/{org}/teams/{team_slug}")
    except GithubException as error:
        if error.status != 404:
            raise
        raise ForgeTeamNotFoundError(
            f"the team {org}/{team_slug} does not exist, or promobot cannot see it",
            hint="check the team slugs under `approval.teams` in the policy; an App needs "
            f"the organization permission Members: read and an installation on {org}",
        ) from error
