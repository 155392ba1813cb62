"""`python -m promobot_sandbox github|azure …`."""

import sys

from promobot_sandbox.cli import main

sys.exit(main())
