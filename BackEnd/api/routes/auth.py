"""Registration, login and the caller's own account."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from ...admin_schemas import OwnPasswordChange
from ...model_schemas import Profile, ProfileUpdate, UsageReport
from ...organising_schemas import UserStatsPublic
from ...records import UserRecord
from ...schemas import LoginRequest, RegisterRequest, Token, UserPublic
from ...services import auth, organising, usage
from ...services.chat_options import preferences_of
from ...services.classroom_limits import LoginRules
from ..deps import AppContext, ClientAddress, ContextDep, CurrentUser, DatabaseDep, UsageDays
from ..errors import BODY_ERRORS, responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register", status_code=status.HTTP_201_CREATED, responses=responses(403, 409, 503, *BODY_ERRORS)
)
async def register(body: RegisterRequest, context: ContextDep) -> UserPublic:
    """Create an account (always with the `user` role); ALLOW_SIGNUP and ALLOWED_EMAIL_DOMAINS decide who may."""
    settings = context.settings
    auth.check_signup(settings.allow_signup, settings.allowed_email_domains, body.email)
    user = await auth.register(
        context.database,
        context.hasher,
        email=body.email,
        password=body.password,
        name=body.name,
        credits=settings.default_credits,
    )
    return UserPublic.model_validate(user)


@router.post("/login", responses=responses(401, 403, 429, 503, *BODY_ERRORS))
async def login(body: LoginRequest, context: ContextDep, address: ClientAddress) -> Token:
    """Exchange an email and a password for an access token."""
    return await _issue_token(context, body.email, body.password, address)


@router.post("/token", responses=responses(401, 403, 429, 503, *BODY_ERRORS))
async def login_for_swagger(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], context: ContextDep, address: ClientAddress
) -> Token:
    """The OAuth2 password flow behind Swagger's Authorize button (`username` is the email)."""
    return await _issue_token(context, form.username, form.password, address)


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


@router.post("/me/password", responses=responses(401, 403, 503, *BODY_ERRORS))
async def change_password(body: OwnPasswordChange, user: CurrentUser, context: ContextDep) -> Token:
    """Change the caller's password: every older token stops working; the answer carries a fresh one."""
    updated = await auth.change_own_password(
        context.database, context.hasher, user, current=body.current_password, new=body.new_password
    )
    return _token(context, updated)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 503))
def logout_everywhere(user: CurrentUser, database: DatabaseDep) -> Response:
    """Refuse every token issued so far for the caller (a lost laptop)."""
    auth.bump_token_generation(database, user["id"])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _issue_token(context: AppContext, email: str, password: str, address: str) -> Token:
    settings = context.settings
    rules = LoginRules(
        per_email=settings.login_max_failures,
        per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_window_seconds,
    )
    user = await auth.authenticate(
        context.database, context.hasher, email=email, password=password, address=address, rules=rules
    )
    return _token(context, user)


def _token(context: AppContext, user: UserRecord) -> Token:
    return Token(
        access_token=context.tokens.issue(user["id"], user["token_generation"]),
        expires_in=context.tokens.lifetime_seconds,
    )
