"""The caller's tags and folders, across their conversations."""

from fastapi import APIRouter

from ...organising_schemas import FolderChange, FolderCount, FolderList, FolderRename, TagCount, TagList
from ...services import organising
from ..deps import CurrentUser, DatabaseDep
from ..errors import BODY_ERRORS, responses

router = APIRouter(tags=["organising"], responses=responses(401, 503))


@router.get("/tags")
def read_tags(user: CurrentUser, database: DatabaseDep) -> TagList:
    """Each tag with how many of the caller's conversations (archived ones too) carry it, A→Z."""
    counts = organising.tag_counts(database, user["id"])
    return TagList(items=[TagCount(tag=tag, count=count) for tag, count in counts])


@router.get("/folders")
def read_folders(user: CurrentUser, database: DatabaseDep) -> FolderList:
    """Each folder with how many of the caller's conversations (archived ones too) are in it, A→Z."""
    counts = organising.folder_counts(database, user["id"])
    return FolderList(items=[FolderCount(folder=folder, count=count) for folder, count in counts])


@router.patch("/folders/{folder}", responses=responses(404, *BODY_ERRORS))
def rename_folder(folder: str, body: FolderRename, user: CurrentUser, database: DatabaseDep) -> FolderChange:
    """Rename a folder for all its conversations; `count`: how many moved."""
    moved = organising.rename_folder(database, user["id"], folder, body.name)
    return FolderChange(folder=body.name, count=moved)


@router.delete("/folders/{folder}", responses=responses(404))
def delete_folder(folder: str, user: CurrentUser, database: DatabaseDep) -> FolderChange:
    """Take every conversation out of the folder (they stay); `count`: how many."""
    return FolderChange(folder=folder, count=organising.remove_from_folder(database, user["id"], folder))
