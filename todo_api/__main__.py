"""`python -m todo_api`: run the service (see `cli/serve.py`)."""

from .cli.serve import main

main()
