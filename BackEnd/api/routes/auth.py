"""Registration, login and the caller's own account."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from ...model_schemas import Profile, ProfileUpdate, UsageReport
from ...organising_schemas import UserStatsPublic
from ...records import UserRecord
from ...schemas import LoginRequest, RegisterRequest, Token, UserPublic
from ...services import auth, organising, usage
from ...services.chat_options import preferences_of
from ..deps import AppContext, ContextDep, CurrentUser, DatabaseDep, UsageDays
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=responses(409, 503, *BODY_ERRORS))
async def register(body: RegisterRequest, context: ContextDep) -> UserPublic:
    """Create an account (always with the `user` role)."""
    user = await auth.register(
        context.database, context.hasher, email=body.email, password=body.password, name=body.name
    )
    return UserPublic.model_validate(user)


@router.post("/login", responses=responses(401, 503, *BODY_ERRORS))
async def login(body: LoginRequest, context: ContextDep) -> Token:
    """Exchange an email and a password for an access token."""
    return await _issue_token(context, body.email, body.password)


@router.post("/token", responses=responses(401, 503, *BODY_ERRORS))
async def login_for_swagger(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], context: ContextDep
) -> Token:
    """The OAuth2 password flow behind Swagger's Authorize button (`username` is the email)."""
    return await _issue_token(context, form.username, form.password)


@router.get("/me", responses=responses(401, 503))
def read_me(user: CurrentUser) -> Profile:
    """The caller's account, with its preferences (each null until set)."""
    return _profile(user)


@router.patch("/me", responses=responses(401, 503, *BODY_ERRORS))
def update_me(body: ProfileUpdate, user: CurrentUser, context: ContextDep) -> Profile:
    """Change the caller's name and preferences; a preference sent as null goes back to the default,
    one left out stays. A model outside ALLOWED_MODELS is a 422."""
    preferences = body.preferences
    changes = None if preferences is None else preferences.model_dump(include=preferences.model_fields_set)
    updated = auth.update_profile(
        context.database, context.settings, user["id"], name=body.name, preference_changes=changes
    )
    return _profile(updated)


@router.get("/me/usage", responses=responses(401, 503))
def read_my_usage(user: CurrentUser, database: DatabaseDep, days: UsageDays) -> UsageReport:
    """What the caller's answers cost over UTC days `from`…`to` (default: the last 30)."""
    return UsageReport.model_validate(usage.account_report(database, user["id"], *days))


def _profile(user: UserRecord) -> Profile:
    return Profile.model_validate({**user, "preferences": preferences_of(user)})


@router.get("/me/stats", responses=responses(401, 503))
def read_my_stats(user: CurrentUser, database: DatabaseDep) -> UserStatsPublic:
    """The caller's figures, kept up to date as they chat; `by_day`: the last 30 UTC days."""
    stats, days = organising.user_stats(database, user["id"])
    return UserStatsPublic.model_validate(
        {**asdict(stats), "by_day": [{"date": day, "messages": count} for day, count in days]}
    )


async def _issue_token(context: AppContext, email: str, password: str) -> Token:
    user = await auth.authenticate(context.database, context.hasher, email=email, password=password)
    return Token(access_token=context.tokens.issue(user["id"]), expires_in=context.tokens.lifetime_seconds)
