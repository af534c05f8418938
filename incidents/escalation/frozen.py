"""The plan's chain as frozen onto an escalation: its steps and when each is due."""
from __future__ import annotations

from datetime import datetime, timedelta


from incidents.plan import UNGRADED, Plan


def chain_for(plan: Plan, level: str | None) -> dict | None:
    """Return the plan's chain for a level as the plain data an escalation keeps, or None."""
    chains = dict(plan.escalation)
    key = level if level in chains else UNGRADED
    chain = chains.get(key)
    return chain.as_dict(key) if chain is not None and chain.steps else None


def step_count(chain: dict) -> int:
    """Return how many steps the chain takes over all its rounds."""
    return len(chain["steps"]) * chain["repeat"]


def step_at(chain: dict, started_at: datetime, n: int) -> datetime:
    """Return when step n (counted over all rounds) is due."""
    rnd, k = divmod(n, len(chain["steps"]))
    return started_at + timedelta(seconds=rnd * chain["repeat_after"] + chain["steps"][k]["after"])


def step_of(chain: dict, n: int) -> dict:
    """Return step n (counted over all rounds), with its round."""
    rnd, k = divmod(n, len(chain["steps"]))
    return {**chain["steps"][k], "round": rnd + 1, "index": k}
