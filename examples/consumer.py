"""A notification service's starting point: a durable JetStream consumer of the todo API's reminders.

Every reminder that fires is a `notification.created` event, relayed by the service (EVENTS_NATS_URL)
to the subject `todo.notification.created` as a CloudEvent. This consumer prints each one and acks it;
being durable, it resumes where it stopped, and JetStream redelivers what was not acked.

    NATS_URL=nats://127.0.0.1:4222 python examples/consumer.py
"""

import asyncio
import json
import os

import nats


async def main() -> None:
    client = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    jetstream = client.jetstream()
    subscription = await jetstream.pull_subscribe("todo.notification.created", durable="reminder-sender")
    print("waiting for reminders (Ctrl-C to stop)", flush=True)
    try:
        while True:
            try:
                messages = await subscription.fetch(10, timeout=5)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                event = json.loads(message.data)  # a structured-mode CloudEvent
                reminder = event["data"]
                print(f"remind {event['userid']}: {reminder['title']} (task {reminder['task_id']},"
                      f" due {reminder['due_date']}; event {event['id']})", flush=True)  # fmt: skip
                await message.ack()
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
