"""Reminders: the scheduler every instance runs, and the notifications it writes."""
