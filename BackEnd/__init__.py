"""AssistantIA: a self-hosted backend API for AI chat."""

__version__ = "1.0.0"
