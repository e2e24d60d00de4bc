"""Registration, login and the caller's own account."""

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from ...schemas import LoginRequest, RegisterRequest, Token, UserPublic
from ...services import auth
from ..deps import AppContext, ContextDep, CurrentUser
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
def read_me(user: CurrentUser) -> UserPublic:
    """The caller's account."""
    return UserPublic.model_validate(user)


async def _issue_token(context: AppContext, email: str, password: str) -> Token:
    user = await auth.authenticate(context.database, context.hasher, email=email, password=password)
    return Token(access_token=context.tokens.issue(user["id"]), expires_in=context.tokens.lifetime_seconds)
