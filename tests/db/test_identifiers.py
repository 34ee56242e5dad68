"""Screening numbers and serials on PostgreSQL: sealed, unique by blind index under
concurrency, forgotten on erasure, and converted from databases written before they were."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api import app
from api.settings import Environment, Settings
from domain.actors import Role
from domain.errors import DomainError, ErrorCode
from domain.ids import DeviceId, ParticipantId
from domain.ports import UnitOfWorkFactory
from domain.readings import ReadingKind
from domain.services import contacts, devices, participants, studies
from domain.studies import Site, Study
from infra.crypto.keys import KeyFileProvider
from infra.db import legacy_identifiers, migrations, provision
from infra.db.data_keys import DataKeyStore
from infra.db.engine import create_engine, session_factory
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.factories import admin, at_site, caller
from tests.world import build_world

LEGACY_NUMBER = "SCR-LEGACY-7"
ERASED_NUMBER = "SCR-ERASED-9"
LEGACY_SERIAL = "OM-12345"
_COORDINATOR = Role.COORDINATOR


async def _site(uow: UnitOfWorkFactory) -> Site:
    boss = caller(admin())
    study = await studies.create_study(
        uow=uow(), ctx=boss, code=f"ID-{uuid.uuid4().hex[:6]}", title="Identifiers"
    )
    return await studies.create_site(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )


async def _outcomes(attempts: Iterable[Awaitable[object]]) -> list[str]:
    done = await asyncio.gather(*attempts, return_exceptions=True)
    return sorted(r.code.value if isinstance(r, DomainError) else type(r).__name__ for r in done)


async def test_one_screening_number_per_study_even_when_registered_at_once(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    site = await _site(committing_uow)
    ctx = caller(at_site(_COORDINATOR, site))
    outcomes = await _outcomes(
        participants.register_participant(
            uow=committing_uow(), ctx=ctx, site_id=site.id, screening_number="SCR-RACE"
        )
        for _ in range(8)
    )
    assert outcomes == ["ALREADY_EXISTS"] * 7 + ["Participant"]


async def test_one_serial_per_study_even_when_registered_at_once(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    site = await _site(committing_uow)
    ctx = caller(at_site(_COORDINATOR, site))
    outcomes = await _outcomes(
        devices.register(
            uow=committing_uow(),
            ctx=ctx,
            site_id=site.id,
            kinds=(ReadingKind.HEART_RATE,),
            model="Omron",
            serial="OM-RACE",
        )
        for _ in range(8)
    )
    assert outcomes == ["ALREADY_EXISTS"] * 7 + ["Device"]


async def test_erasure_forgets_the_screening_number(
    uow: SqlUnitOfWorkFactory, app_engine: AsyncEngine
) -> None:
    world = await build_world(uow)
    gone = world.people[0]
    await contacts.erase_participant(
        uow=uow(), ctx=caller(admin()), participant_id=gone.id, legal_basis="GDPR Art. 17"
    )
    found = await participants.get_participant(
        uow=uow(), ctx=caller(world.coordinator), participant_id=gone.id
    )
    assert found.screening_number is None
    async with uow() as unit:
        row = (
            await unit.session.execute(
                text(
                    "SELECT screening_number_sealed, screening_number_index, "
                    "legacy_screening_number FROM participants WHERE id = :id"
                ),
                {"id": gone.id},
            )
        ).one()
    assert tuple(row) == (None, None, None)


# --- databases written before identifiers were sealed -------------------------------------


class Legacy:
    """A database at migration 0006 with identifiers in the clear, as earlier versions wrote."""

    def __init__(self, owner_url: str, settings: Settings) -> None:
        self.owner_url = owner_url
        self.settings = settings
        self.site: Site | None = None
        self.kept = ParticipantId(uuid.uuid4())
        self.erased = ParticipantId(uuid.uuid4())
        self.device = uuid.uuid4()


@pytest.fixture
async def legacy(database: ScratchDatabase, tmp_path: Path) -> AsyncIterator[Legacy]:
    name = f"hearth_legacy_{secrets.token_hex(4)}"
    await provision.ensure_database(database.server_url, name)
    owner = provision.with_database(database.server_url, name)
    settings = Settings(
        env=Environment.TEST,
        database_url=SecretStr(owner),
        key_file=tmp_path / "keys.json",
        export_dir=tmp_path / "exports",
        db_pool_size=2,
    )
    engine = create_engine(owner, pool_size=1)
    try:
        await migrations.upgrade(engine, "0006")
        made = Legacy(owner, settings)
        await _write_as_before(engine, made)
        yield made
    finally:
        await engine.dispose()
        await provision.drop_database(database.server_url, name)


async def _write_as_before(engine: AsyncEngine, legacy: Legacy) -> None:
    now = CLOCK.now()
    study = Study.new(code=f"ID-{uuid.uuid4().hex[:6]}", title="Identifiers", now=now)
    site = Site.new(
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
        now=now,
    )
    legacy.site = site
    async with session_factory(engine)() as session, session.begin():
        # Rows as 0006 held them: today's tables have columns that schema does not.
        await session.execute(
            text(
                "INSERT INTO studies (id, code, title, created_at, version)"
                " VALUES (:id, :code, :title, :now, 1)"
            ),
            {"id": study.id, "code": study.code, "title": study.title, "now": now},
        )
        await session.execute(
            text(
                "INSERT INTO sites (id, study_id, code, name, country, timezone, created_at,"
                " version) VALUES (:id, :study, :code, :name, :country, :zone, :now, 1)"
            ),
            {
                "id": site.id,
                "study": study.id,
                "code": site.code,
                "name": site.name,
                "country": site.country,
                "zone": site.timezone,
                "now": now,
            },
        )
        for pid, number, erased in (
            (legacy.kept, LEGACY_NUMBER, None),
            (legacy.erased, ERASED_NUMBER, now),
        ):
            await session.execute(
                text(
                    "INSERT INTO participants (id, study_id, site_id, subject_id, screening_number,"
                    " status, timezone, registered_at, status_changed_at, erased_at, version) "
                    "VALUES (:id, :study, :site, :subject, :number, 'SCREENED', 'Europe/Berlin',"
                    " :now, :now, :erased, 1)"
                ),
                {
                    "id": pid,
                    "study": site.study_id,
                    "site": site.id,
                    "subject": secrets.token_hex(4).upper(),
                    "number": number,
                    "now": now,
                    "erased": erased,
                },
            )
            keys = KeyFileProvider.open_or_create(legacy.settings.key_path)
            store = DataKeyStore(session, keys, CLOCK)
            await store.create(pid, "participant")
            if erased is not None:
                await store.destroy(pid)
        await session.execute(
            text(
                "INSERT INTO devices (id, study_id, site_id, kinds, model, serial, registered_at,"
                " version) VALUES (:id, :study, :site, '[\"HEART_RATE\"]', 'Omron', :serial,"
                " :now, 1)"
            ),
            {
                "id": legacy.device,
                "study": site.study_id,
                "site": site.id,
                "serial": LEGACY_SERIAL,
                "now": now,
            },
        )


async def _plaintext_left(owner_url: str) -> list[str]:
    """The identifiers that show in clear in the participants' and devices' rows."""
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT p::text FROM participants p UNION ALL SELECT d::text FROM devices d")
            )
            dump = " ".join(r[0] for r in rows)
    finally:
        await engine.dispose()
    return [v for v in (LEGACY_NUMBER, ERASED_NUMBER, LEGACY_SERIAL) if v in dump]


async def _convert_at_server_start(legacy: Legacy) -> None:
    engine = create_engine(legacy.owner_url, pool_size=1)
    try:
        await migrations.upgrade(engine)  # a plain `alembic upgrade`: no keys, nothing sealed
    finally:
        await engine.dispose()
    assert await _plaintext_left(legacy.owner_url)
    application = app.create_app(legacy.settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        pass


async def _convert_at_migrate(legacy: Legacy) -> None:
    converted = await app.migrate_database(legacy.settings, clock=CLOCK)
    assert (converted.screening_numbers, converted.serials, converted.dropped) == (1, 1, 1)


@pytest.mark.parametrize("convert", [_convert_at_migrate, _convert_at_server_start])
async def test_a_database_from_0006_ends_with_no_plaintext_identifiers(
    legacy: Legacy,
    convert: Callable[[Legacy], Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(legacy_identifiers, "BATCH", 1)  # several batches, one row each
    assert await _plaintext_left(legacy.owner_url) == [LEGACY_NUMBER, ERASED_NUMBER, LEGACY_SERIAL]
    await convert(legacy)
    assert await _plaintext_left(legacy.owner_url) == []
    again = await app.migrate_database(legacy.settings, clock=CLOCK)
    assert again.total == 0  # idempotent
    site = legacy.site
    assert site is not None
    runtime = app.build_runtime(legacy.settings, clock=CLOCK)
    try:
        uow, ctx = runtime.services.uow, caller(at_site(_COORDINATOR, site))
        kept = await participants.get_participant(uow=uow(), ctx=ctx, participant_id=legacy.kept)
        assert participants.screening_number_of(ctx, kept) == LEGACY_NUMBER
        erased = await participants.get_participant(
            uow=uow(), ctx=ctx, participant_id=legacy.erased
        )
        assert erased.screening_number is None
        device = await devices.get(uow=uow(), ctx=ctx, device_id=DeviceId(legacy.device))
        assert devices.serial_of(ctx, device) == LEGACY_SERIAL
        # Uniqueness holds against the converted rows through their blind indexes.
        with pytest.raises(DomainError) as raised:
            await participants.register_participant(
                uow=uow(), ctx=ctx, site_id=site.id, screening_number=LEGACY_NUMBER
            )
        assert raised.value.code is ErrorCode.ALREADY_EXISTS
        with pytest.raises(DomainError) as raised:
            await devices.register(
                uow=uow(),
                ctx=ctx,
                site_id=site.id,
                kinds=(ReadingKind.HEART_RATE,),
                model="Omron",
                serial=LEGACY_SERIAL,
            )
        assert raised.value.code is ErrorCode.ALREADY_EXISTS
        # The log and the sealed values verify. (State tables are not reconciled here: this
        # test wrote its 0006-era rows by hand, without the events that version logged.)
        assert (await runtime.verify_audit(reconcile=False)).ok
    finally:
        await runtime.close()
