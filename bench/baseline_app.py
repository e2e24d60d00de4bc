"""The framework's ceiling: a bare FastAPI endpoint returning a small JSON, served like `python main.py`.

`BackEnd/cli.py` serves with `uvicorn.run(app, **server_options(...))`: uvicorn's defaults
with our guarded httptools protocol and its limits. This does exactly the same, so the
difference between the two is the app's own code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from BackEnd.config import Settings  # noqa: E402
from BackEnd.server import connection_limits, server_options  # noqa: E402

app = FastAPI()


@app.get("/")
async def root() -> dict[str, str]:
    """The same body as the real server's liveness answer."""
    return {"status": "online"}


if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(app, **server_options(settings, connection_limits(settings)))
