"""The local stack: embedded PostgreSQL/Redis/EVM, the API Gateway emulation, local schedules."""

import os
import tempfile
from pathlib import Path

# platformdirs (used by pgserver) warns on every start when this is unset, as in CI containers.
if "XDG_RUNTIME_DIR" not in os.environ:
    _runtime = Path(tempfile.gettempdir()) / f"ticketguard-runtime-{os.getuid()}"
    _runtime.mkdir(mode=0o700, exist_ok=True)
    # pgserver, run as root, opens the folders above its files to its own user (0755): put it back,
    # or every later start in another process warns again.
    if _runtime.stat().st_uid == os.getuid():
        _runtime.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(_runtime)
