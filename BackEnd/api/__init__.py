"""The HTTP layer: dependencies, error mapping and one thin router per domain."""
