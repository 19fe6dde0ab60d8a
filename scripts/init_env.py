"""First run convenience: create `.env` with a fresh BETTER_AUTH_SECRET if there is none.

Runs only when neither `.env` nor a BETTER_AUTH_SECRET in the environment exists, and says so.
"""

import os
import secrets
from pathlib import Path

env_file = Path(".env")
if not env_file.exists() and not os.environ.get("BETTER_AUTH_SECRET"):
    template = Path(".env.example").read_text()
    secret = secrets.token_urlsafe(32)
    env_file.write_text(template.replace("BETTER_AUTH_SECRET=", f"BETTER_AUTH_SECRET={secret}", 1))
    env_file.chmod(0o600)
    print(
        "Created .env with a freshly generated BETTER_AUTH_SECRET. "
        "Set it to your Better Auth frontend's secret so their tokens are accepted."
    )
