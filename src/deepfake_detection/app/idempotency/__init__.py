"""Idempotency-Key support for the detection requests: a retry replays the first answer."""
