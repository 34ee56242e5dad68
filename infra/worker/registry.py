"""Every job type the worker knows, in one place: its task name, queue and handler.

The outbox accepts only work whose task is registered here, and the worker registers
exactly these tasks with procrastinate. A new kind of background work (webhook deliveries,
notifications) adds one `JobType` here and its handler in a module named after its concept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain import alerts, data_downloads, exports, missed_diaries, occurrences
from domain.actors import RequestContext
from domain.services.webhooks import DELIVER
from infra.worker import alerts as alert_tasks
from infra.worker import exports as export_tasks
from infra.worker import missed_diaries as missed_diary_tasks
from infra.worker import my_data as my_data_tasks
from infra.worker import occurrences as occurrence_tasks
from infra.worker import reminders as reminder_tasks
from infra.worker import webhooks as webhook_tasks
from infra.worker.services import WorkerServices

Handler = Callable[..., Awaitable[None]]  # (services, ctx, **args) -> None

EXPORTS = "exports"  # long jobs that each hold a database connection while they run
MAINTENANCE = "maintenance"  # short housekeeping: periodic, or keeping diary plans current
WEBHOOKS = "webhooks"  # HTTP POSTs to receivers: short, many, never behind an export
NOTIFICATIONS = "notifications"  # reminders to participants, every minute
SEND_REMINDERS = "reminders.send"
ALERTS = "alerts"  # evaluating alert rules, e-mailing site staff


@dataclass(frozen=True)
class JobType:
    name: str
    queue: str
    handler: Handler
    periodic: str | None = None  # cron (a sixth field: seconds); deferred by the workers

    async def handle(
        self, services: WorkerServices, ctx: RequestContext, args: Mapping[str, Any]
    ) -> None:
        await self.handler(services, ctx, **args)


JOB_TYPES: Mapping[str, JobType] = {
    t.name: t
    for t in (
        JobType(exports.RUN_EXPORT, EXPORTS, export_tasks.run_export),
        JobType(exports.EXPIRE_EXPORTS, MAINTENANCE, export_tasks.expire_exports, "*/15 * * * *"),
        JobType(DELIVER, WEBHOOKS, webhook_tasks.deliver_webhook),
        JobType(SEND_REMINDERS, NOTIFICATIONS, reminder_tasks.send_reminders, "* * * * *"),
        JobType(alerts.EVALUATE, ALERTS, alert_tasks.evaluate, "*/5 * * * *"),
        JobType(alerts.NOTIFY_SITE, ALERTS, alert_tasks.notify_site),
        JobType(data_downloads.BUILD, EXPORTS, my_data_tasks.build),
        JobType(occurrences.REPLAN, MAINTENANCE, occurrence_tasks.replan),
        JobType(occurrences.REPLAN_STUDY, MAINTENANCE, occurrence_tasks.replan_study),
        JobType(missed_diaries.CHECK, MAINTENANCE, missed_diary_tasks.check, "*/15 * * * *"),
    )
}
QUEUES = tuple(sorted({t.queue for t in JOB_TYPES.values()}))


class UnknownTask(LookupError):
    """Work for a task that no job type handles: a programming error, caught at enqueue."""


def job_type(task: str) -> JobType:
    try:
        return JOB_TYPES[task]
    except KeyError:
        raise UnknownTask(task) from None
