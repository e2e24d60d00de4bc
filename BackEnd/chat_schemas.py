"""The bodies of the chat routes: a turn's choices, chat and regenerate requests, the WebSocket's messages, the reply."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, model_validator

from .schemas import ImageUrl, MaxTokens, MessageText, ModelName, Temperature, TopP, UsagePublic

__all__ = [
    "AnswerError",
    "ChatAnswer",
    "ChatChoices",
    "ChatReply",
    "ChatRequest",
    "RegenerateRequest",
    "RequestId",
    "SocketAuth",
    "SocketChat",
    "SocketMessage",
    "SocketRegenerate",
    "SocketStop",
    "StopRequest",
]


class ChatChoices(BaseModel):
    """What a turn asks of the model(s): shared by chat and regenerate bodies."""

    # -- model choice (issue 9): left out, the caller's preference applies, else the server's default
    model: ModelName | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    # -- several models (issue 10): 2 to 4 distinct ids, instead of `model`
    models: Annotated[list[ModelName], Field(min_length=2, max_length=4)] | None = None

    @model_validator(mode="after")
    def _one_choice_of_models(self) -> Self:
        if self.models is not None:
            if self.model is not None:
                raise ValueError("give either 'model' or 'models', not both")
            if len(set(self.models)) != len(self.models):
                raise ValueError("'models' must name distinct models")
        return self


class ChatRequest(ChatChoices):
    """One user message; without `conversation_id` a new thread is started."""

    message: MessageText
    conversation_id: Annotated[str, Field(max_length=100)] | None = None
    # -- images (issue 10): https:// or data:image/...;base64, URLs, checked by services/images.py
    images: Annotated[list[ImageUrl], Field(max_length=4)] | None = None


class RegenerateRequest(ChatChoices):
    """Ask again for a thread's last user message (issue 10); with `message`, its text is replaced first."""

    conversation_id: Annotated[str, Field(max_length=100)]
    message: MessageText | None = None


class StopRequest(BaseModel):
    """Which thread's generations to stop."""

    conversation_id: Annotated[str, Field(max_length=100)]


# -- WebSocket messages (GET /ai/ws): the first is `auth`, then `chat` and `stop` in any order.
RequestId = Annotated[str, Field(max_length=100)] | int | None


class SocketAuth(BaseModel):
    """The first message on a socket: browsers cannot set Authorization on a WebSocket."""

    type: Literal["auth"]
    token: Annotated[str, Field(max_length=4096)]


class SocketChat(ChatRequest):
    """`POST /ai/chat/stream`'s body; `request_id` (the client's) is echoed on each event."""

    type: Literal["chat"]
    request_id: RequestId = None


class SocketRegenerate(RegenerateRequest):
    """`POST /ai/chat/regenerate/stream`'s body over the socket (issue 10)."""

    type: Literal["regenerate"]
    request_id: RequestId = None


class SocketStop(StopRequest):
    """`POST /ai/chat/stop` over the socket."""

    type: Literal["stop"]
    request_id: RequestId = None


SocketMessage = Annotated[SocketChat | SocketRegenerate | SocketStop, Field(discriminator="type")]


class AnswerError(BaseModel):
    """Why one model of a several-model turn gave no answer: what `/ai/chat` would have answered."""

    status: int
    detail: str


class ChatAnswer(BaseModel):
    """One model's answer to a turn (issue 10); a failed model has `error` and nulls elsewhere."""

    model: str
    answer: str | None
    assistant_message_id: str | None
    finish_reason: str | None
    usage: UsagePublic | None
    error: AnswerError | None


class ChatReply(BaseModel):
    """The model's answer and where both messages were stored.

    `answers` lists every model asked, in the order asked (one item for a single-model turn);
    the other fields are those of the first model that answered.
    """

    answer: str
    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    # -- what answered (issue 9)
    model: str
    finish_reason: str | None
    usage: UsagePublic | None
    answers: list[ChatAnswer]
