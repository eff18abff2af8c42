"""The touch ticket kiosk (取号机): a client of the controller's API (issue 5)."""

import os as _os

# pygame prints a greeting on import; a kiosk's journal has no use for it.
_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
