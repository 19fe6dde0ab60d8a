"""The HTTP routes, a module per resource, each with its `router`; `main` adds them all."""

from fastapi.routing import APIRoute


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names (`list_tasks`, `create_task`...): what
    generated clients (orval, openapi-generator) name their functions after."""
    return route.name
