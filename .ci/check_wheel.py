"""The promobot wheel holds the product only: no sandbox, no test helper.

Builds the wheel of the repository (pip, build isolation) into a temporary folder and lists
what it holds. Exit 1, naming the files, when anything outside `bot/` (or a test helper
inside it) is packaged.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("promobot_sandbox/", "tests/", "bot/sandbox/", "bot/store/testing.py", "contract.py")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet", "-w", folder],
            check=True,
        )
        [wheel] = Path(folder).glob("promobot-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("bot/", "promobot-"))]
    forbidden = [n for n in names if any(part in n for part in FORBIDDEN)]
    if outside or forbidden:
        print("the wheel holds more than the product:", *sorted({*outside, *forbidden}), sep="\n  ")
        return 1
    modules = sum(n.endswith(".py") for n in names)
    print(f"{wheel.name}: {len(names)} files, {modules} modules, all under bot/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
