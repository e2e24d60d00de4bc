"""The framework's ceiling: a bare FastAPI endpoint returning a small JSON, served like `python main.py`.

`BackEnd/cli.py` serves with `uvicorn.run(app, host=..., port=...)` and uvicorn's defaults;
this does exactly the same, so the difference between the two is our own code.
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root() -> dict[str, str]:
    """The same body as the real server's liveness answer."""
    return {"status": "online"}


if __name__ == "__main__":
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]))
