"""What the tests share: users and tokens, apps and databases, service processes, tools and tasks.

- `auth`: unique users, tokens and `Authorization` headers;
- `apps`: settings and the app in-process (ASGI) on a given database;
- `databases`: throwaway databases, and dropping the service's connections as Neon does;
- `launcher`: `python -m todo_api` (or any server) as a real process on a free port;
- `ports`: a free loopback port;
- `tools`: skip when a tool is missing, or fail when CI demands it (`REQUIRE_*=1`);
- `tasks`: create a task through the API;
- `better_auth`: the real Better Auth (npm) as a token issuer.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository's root
