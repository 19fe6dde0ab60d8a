"""The framework ceiling: a bare FastAPI endpoint (no database, no auth) under the same server flags."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}
