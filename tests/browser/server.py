"""The app served over TCP by uvicorn, on a pinned clock: what the browser tests talk to.

Run as `python -m tests.browser.server PORT ISO-MOMENT` with the usual environment
(DATABASE_URL, HEARTH_KEY_FILE, ...). The clock stays at ISO-MOMENT, so what the browser
sees does not depend on the machine's time or zone.
"""

from __future__ import annotations

import sys
from datetime import datetime

import uvicorn

from api.app import create_app
from api.settings import Settings
from tests.clock import PinnedClock


def main(port: int, moment: str) -> None:
    app = create_app(Settings(), clock=PinnedClock(datetime.fromisoformat(moment)))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
