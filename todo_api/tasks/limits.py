"""Each user's quotas: how many tasks, and how many pending reminders, a create may bring them to."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Quotas:
    tasks: int = 10_000
    reminders: int = 1_000


class QuotaExceeded(Exception):
    """A create past a quota; nothing was written."""

    def __init__(self, what: str, maximum: int, setting: str) -> None:
        super().__init__(f"You have reached the limit of {maximum:,} {what} ({setting}); delete some first")
        self.detail = str(self)


def exceeded(quotas: Quotas, tasks: int, reminders: int) -> QuotaExceeded:
    """Which quota refused a create, from the user's counts as they are now."""
    if tasks >= quotas.tasks:
        return QuotaExceeded("tasks", quotas.tasks, "MAX_TASKS_PER_USER")
    return QuotaExceeded("pending reminders", quotas.reminders, "MAX_REMINDERS_PER_USER")
