"""Liveness."""

from fastapi import APIRouter

from ...schemas import Status

router = APIRouter(tags=["status"])


@router.get("/")
async def read_status() -> Status:
    """The server is up."""
    return Status()
