"""Provider-shaped API keys for tests, built from parts so that no secret scanner takes a
literal in the repository for a real key. The prefix is what the code reads (Stripe's
test/live and restricted keys, Paddle's sandbox/live); the body says it is fake."""

from __future__ import annotations


def stripe_key(body: str, live: bool = False, restricted: bool = False) -> str:
    return ("rk" if restricted else "sk") + ("_live_" if live else "_test_") + body


def paddle_key(body: str, live: bool = False) -> str:
    return "pdl_" + ("live" if live else "sdbx") + "_apikey_" + body
