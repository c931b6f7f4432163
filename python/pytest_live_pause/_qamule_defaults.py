"""QAMule mode's defaults.

They are kept apart from :mod:`pytest_live_pause.qamule` so that the
plugin's options and help can name them on every pytest start without
importing QAMule mode itself, which the plugin imports only when QAMule
mode is on (its classes cost every pytest start measurable time).
"""

from __future__ import annotations

import os
import tempfile

MODE = "qamule"
DEFAULT_SIGNAL = "SIGUSR1"
DEFAULT_TIMEOUT = 600.0  # QAMule's


def default_result_dir() -> str:
    """QAMule's default: ``<system temp>/qamule-pauses``."""
    return os.path.join(tempfile.gettempdir(), "qamule-pauses")
