"""Git hooks of the bare repositories: a person's `git push` is checked against branch
protection and rulesets before it lands (pre-receive, GitHub's "GH006" refusals) and
reported afterwards so the sandbox sends the webhooks (post-receive)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from promobot_sandbox.github.sandbox import Sandbox

_PRELUDE = """#!{python}
import json, pathlib, subprocess, sys, urllib.request

DATA = pathlib.Path({data_dir!r})
GIT_DIR = {git_dir!r}


def call(route, body):
    request = urllib.request.Request(
        (DATA / "endpoint").read_text().strip() + route,
        data=json.dumps(body).encode(),
        headers={{"Content-Type": "application/json",
                  "X-Sandbox-Hook-Secret": (DATA / "hook-secret").read_text().strip()}},
    )
    return json.loads(urllib.request.urlopen(request, timeout=60).read() or b"{{}}")
"""

_POST_RECEIVE = '''
"""post-receive: tell the sandbox GitHub about this push so it sends the webhooks."""
try:
    call("/_sandbox/git/post-receive", {{"repository": GIT_DIR, "updates": sys.stdin.read()}})
except Exception as error:
    print(f"sandbox github: push not reported ({{error}}); is it running?", file=sys.stderr)
'''

_PRE_RECEIVE = '''
"""pre-receive: ask the sandbox GitHub whether protection and rulesets allow the push."""
ZERO = "0" * 40


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)


updates = []
for line in sys.stdin.read().splitlines():
    before, after, ref = line.split()
    update = {{"before": before, "after": after, "ref": ref, "new_commits": [],
               "fast_forward": True, "pusher_email": ""}}
    if after != ZERO:
        update["new_commits"] = git("rev-list", after, "--not", "--all").stdout.split()
        update["pusher_email"] = git("log", "-1", "--format=%ce", after).stdout.strip()
        if before != ZERO:
            ancestor = git("merge-base", "--is-ancestor", before, after)
            update["fast_forward"] = ancestor.returncode == 0
    updates.append(update)
try:
    answer = call("/_sandbox/git/pre-receive", {{"repository": GIT_DIR, "updates": updates}})
except Exception as error:
    print(f"sandbox github: push not checked ({{error}}); is it running?", file=sys.stderr)
    sys.exit(1)
for refusal in answer.get("refusals", []):
    print(f"error: GH006: Protected branch update failed for {{refusal['ref']}}.", file=sys.stderr)
    for message in refusal["messages"]:
        print(f"error: {{message}}", file=sys.stderr)
sys.exit(1 if answer.get("refusals") else 0)
'''


def install_hooks(sandbox: Sandbox, path: Path) -> None:
    """Write both hooks into the bare repository at `path`.

    A push to `refs/pull/...` is refused as GitHub refuses it ("deny updating a hidden
    ref"): those refs are GitHub's own record of each pull request's head.
    https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/checking-out-pull-requests-locally
    """
    subprocess.run(
        ["git", "-C", str(path), "config", "receive.hideRefs", "refs/pull/"],
        check=True,
        capture_output=True,
    )
    prelude = _PRELUDE.format(
        python=sys.executable,
        data_dir=str(sandbox.data_dir.resolve()),
        git_dir=str(path.resolve()),
    )
    for name, body in (("pre-receive", _PRE_RECEIVE), ("post-receive", _POST_RECEIVE)):
        hook = path / "hooks" / name
        hook.parent.mkdir(exist_ok=True)
        hook.write_text(prelude + body.format())
        hook.chmod(0o755)
