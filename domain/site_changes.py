"""Port: noticing that something about a site changed, for live views."""

from __future__ import annotations

from typing import Protocol

from domain.ids import SiteId


class SiteChanges(Protocol):
    async def newest(self, site_id: SiteId) -> int:
        """A position that grows whenever something about the site changes (0: nothing yet)."""
        ...

    async def wait_for_site_change(self, site_id: SiteId, since: int) -> int | None:
        """The newest position once it is past `since`; None when a wait times out."""
        ...
