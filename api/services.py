"""The ports the API layer is given by the composition root, typed by domain Protocols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from api.settings import Settings
from domain.auth import PasswordHasher, RateLimiter, TokenService
from domain.clock import Clock
from domain.ports import UnitOfWorkFactory
from domain.ports.receipts import ReceiptLog
from domain.users import PasswordScreen

if TYPE_CHECKING:
    from api.export_files import ExportFiles


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    uow: UnitOfWorkFactory
    passwords: PasswordHasher
    password_screen: PasswordScreen
    tokens: TokenService
    limits: RateLimiter
    exports: ExportFiles
    receipts: ReceiptLog
