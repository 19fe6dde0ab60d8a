"""`python -m todo_api.cli.migrate` (`make migrate`): apply the database migrations and exit."""

import asyncio

from ..config import load_settings
from ..observability.logs import configure_logging
from ..storage.embedded import database
from ..storage.migrate import upgrade_to_head
from . import exit_on_config_error


def main() -> None:
    with exit_on_config_error():
        settings = load_settings()
        configure_logging(settings.log_level)
        with database(settings) as url:
            asyncio.run(upgrade_to_head(url, settings.database_connect_timeout))
    print("database schema is up to date")


if __name__ == "__main__":
    main()
