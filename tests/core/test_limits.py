"""RateLimits.count_attempt: every attempt counts against every limit, and the first exceeded one refuses."""

from __future__ import annotations

import pytest

from bot.core.limits import Limit, RateLimited, RateLimits
from tests.support.fakes import FakeClock, MemoryCoordination

LIMITS = RateLimits(per_agent=Limit(2, 3600), per_target=Limit(3, 86400), overall=Limit(4, 3600))


def totals(coordination: MemoryCoordination) -> dict[str, int]:
    return {key.partition("@")[0]: n for key, n in coordination.counters.items()}


async def test_an_attempt_refused_by_one_limit_still_counts_against_the_others():
    coordination = MemoryCoordination(FakeClock())
    await LIMITS.count_attempt(coordination, "ada", "alice")
    await LIMITS.count_attempt(coordination, "ada", "bob")
    with pytest.raises(RateLimited) as refused:
        await LIMITS.count_attempt(coordination, "ada", "alice")
    assert refused.value.scope == "agent"
    assert str(refused.value) == "You have reached your limit of 2 code requests per hour. Wait, or ask a lead."
    assert totals(coordination) == {"rate/agent/ada": 3, "rate/target/alice": 2, "rate/target/bob": 1,
                                    "rate/global": 3}


async def test_the_first_exceeded_limit_in_order_agent_target_global_is_named():
    coordination = MemoryCoordination(FakeClock())
    for agent in ("a", "b", "c"):
        await LIMITS.count_attempt(coordination, agent, "alice")
    with pytest.raises(RateLimited) as refused:  # target (4 > 3) and global (4 ≤ 4): the target
        await LIMITS.count_attempt(coordination, "d", "alice")
    assert refused.value.scope == "target"
    with pytest.raises(RateLimited) as refused:  # global 5 > 4, target 5 > 3: the target still comes first
        await LIMITS.count_attempt(coordination, "e", "alice")
    assert refused.value.scope == "target"
    with pytest.raises(RateLimited) as refused:
        await LIMITS.count_attempt(coordination, "f", "bob")
    assert refused.value.scope == "global"
    assert str(refused.value) == ("The helpdesk has reached its overall limit of 4 code requests per hour. "
                                  "Ask a lead to review it.")


async def test_when_agent_and_target_limits_are_both_exceeded_the_agent_is_named():
    coordination = MemoryCoordination(FakeClock())
    await LIMITS.count_attempt(coordination, "ben", "alice")
    await LIMITS.count_attempt(coordination, "ada", "alice")
    await LIMITS.count_attempt(coordination, "ada", "alice")
    with pytest.raises(RateLimited) as refused:  # agent 3 > 2 and target 4 > 3 (global 4 ≤ 4): the agent
        await LIMITS.count_attempt(coordination, "ada", "alice")
    assert refused.value.scope == "agent"
    assert str(refused.value) == "You have reached your limit of 2 code requests per hour. Wait, or ask a lead."
    assert totals(coordination) == {"rate/agent/ben": 1, "rate/agent/ada": 3, "rate/target/alice": 4,
                                    "rate/global": 4}
    with pytest.raises(RateLimited) as refused:  # all three exceeded (agent 4, target 5, global 5): still the agent
        await LIMITS.count_attempt(coordination, "ada", "alice")
    assert refused.value.scope == "agent"


@pytest.mark.parametrize("limit, text", [
    (Limit(10, 3600), "10 code requests per hour"), (Limit(3, 86400), "3 code requests per 24 hours"),
    (Limit(1, 600), "1 code request per 10 minutes"), (Limit(5, 30), "5 code requests per 30 seconds"),
])
def test_limits_describe_themselves_in_plain_words(limit, text):
    assert limit.describe() == text
