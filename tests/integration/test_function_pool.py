"""Execution environments as real processes: growth, limits, errors, timeouts, deaths."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from affiliate_bridge.errors import ConfigurationError
from affiliate_bridge_dev.function_pool import FunctionPool, InvocationFailed

HANDLERS = "tests.integration.pool_handlers"


@pytest.fixture(scope="module")
def context() -> Any:
    return multiprocessing.get_context("forkserver")


@pytest.fixture
def pools(context: Any) -> Iterator[list[FunctionPool]]:
    made: list[FunctionPool] = []
    yield made
    for pool in made:
        pool.close()


def pool_of(pools: list[FunctionPool], context: Any, handler: str, **kwargs: Any) -> FunctionPool:
    options: dict[str, Any] = {"max_workers": 2, "timeout_seconds": 5.0, **kwargs}
    pool = FunctionPool(context, f"{HANDLERS}:{handler}", **options)
    pools.append(pool)
    return pool


def test_a_warm_environment_serves_one_invocation_after_another(pools: list[FunctionPool], context: Any) -> None:
    pool = pool_of(pools, context, "echo", env_overrides=lambda: {"S": "rotated"})
    pool.warm()
    first = pool.invoke({"n": 1}, ("stripe_webhook", 10))
    second = pool.invoke({"n": 2}, ("stripe_webhook", 10))
    assert first["pid"] == second["pid"] != os.getpid()
    assert (first["event"], first["function"], first["secret"]) == ({"n": 1}, "stripe_webhook", "rotated")
    assert pool.stats == {"workers": 1, "idle": 1, "cold_starts": 1}


def test_concurrent_invocations_get_their_own_environments_up_to_the_limit(
    pools: list[FunctionPool], context: Any
) -> None:
    pool = pool_of(pools, context, "slow", max_workers=3)
    with ThreadPoolExecutor(7) as executor:
        served = list(executor.map(lambda _: pool.invoke({"seconds": 0.4}, ("f", 5))["pid"], range(7)))
    assert len(set(served)) == 3  # three environments, never a fourth: the rest waited
    assert pool.stats["workers"] == 3 and pool.stats["cold_starts"] == 3


def test_a_handler_error_fails_that_invocation_only(pools: list[FunctionPool], context: Any) -> None:
    pool = pool_of(pools, context, "raises", max_workers=1)
    for _ in range(2):
        with pytest.raises(InvocationFailed, match="the handler failed"):
            pool.invoke({}, ("f", 5))
    assert pool.stats["cold_starts"] == 1  # the environment survives its handler's error


def test_a_timeout_or_a_death_replaces_the_environment(pools: list[FunctionPool], context: Any) -> None:
    slow = pool_of(pools, context, "slow", max_workers=1, timeout_seconds=0.3)
    with pytest.raises(InvocationFailed, match="timed out"):
        slow.invoke({"seconds": 5}, ("f", 5))
    assert slow.invoke({"seconds": 0}, ("f", 5))["pid"]  # a new environment took its place
    assert slow.stats["cold_starts"] == 2 and slow.stats["workers"] == 1
    dying = pool_of(pools, context, "dies", max_workers=1)
    with pytest.raises(InvocationFailed, match="died"):
        dying.invoke({}, ("f", 5))
    assert dying.stats["workers"] == 0


def test_a_configuration_error_at_load_is_the_stacks_one_line(pools: list[FunctionPool], context: Any) -> None:
    pool = pool_of(pools, context, "not_configured")
    with pytest.raises(ConfigurationError, match="S_TOLERANCE must be a positive number"):
        pool.warm()
    assert pool.stats["workers"] == 0


def test_a_closed_pool_refuses_new_invocations(pools: list[FunctionPool], context: Any) -> None:
    pool = pool_of(pools, context, "echo")
    pool.warm()
    pool.close()
    with pytest.raises(InvocationFailed, match="stopping"):
        pool.invoke({}, ("f", 5))


def test_a_background_pool_runs_its_environments_at_a_lower_cpu_priority(
    pools: list[FunctionPool], context: Any
) -> None:
    """The forwarder's pool yields the cores to the webhooks' (in AWS they share none)."""
    from affiliate_bridge_dev.function_pool import BACKGROUND_NICENESS

    background = pool_of(pools, context, "echo", background=True)
    foreground = pool_of(pools, context, "echo")
    low = os.getpriority(os.PRIO_PROCESS, background.invoke({}, ("forwarder", 10))["pid"])
    normal = os.getpriority(os.PRIO_PROCESS, foreground.invoke({}, ("stripe_webhook", 10))["pid"])
    assert normal == os.getpriority(os.PRIO_PROCESS, 0)
    assert low == min(normal + BACKGROUND_NICENESS, 19)


def test_a_pool_is_busy_exactly_while_an_invocation_runs(pools: list[FunctionPool], context: Any) -> None:
    """What `make run`'s SQS poller looks at before it takes a batch (poller yields)."""
    pool = pool_of(pools, context, "slow")
    pool.warm()
    assert not pool.busy
    with ThreadPoolExecutor(1) as executor:
        running = executor.submit(pool.invoke, {"seconds": 0.5}, ("f", 5))
        deadline = time.monotonic() + 5
        while not pool.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.busy
        running.result()
    assert not pool.busy
