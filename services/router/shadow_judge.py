"""Shadow judging: which local answers are also asked of the strong tier, and how the strong tier judges the pair.

The gate (ShadowGate.admits): shadowing on (learning.shadow_share > 0), a non-private request, the budget guard
well below its cap (state uncapped or ok: never at the warning ratio or beyond, never with a stale figure), the
share drawn at random, then one shared daily counter in Redis ("maximus:shadow:<YYYY-MM-DD>", INCR: every gateway
process counts in it) at most learning.shadow_max_per_day.

The judge follows the labels RouteLLM trained on (Ong et al., "RouteLLM: Learning to Route LLMs with Preference
Data", arXiv:2406.18665, its LLM-judge-labelled data: GPT-4 judging the strong and the weak model's answers to
the same prompt), whose judge is the pairwise one of Zheng et al., "Judging LLM-as-a-Judge with MT-Bench and
Chatbot Arena" (arXiv:2306.05685): an impartial judge compares two assistants' answers, explains briefly and ends
with [[A]], [[B]] or [[C]] (tie). Assistant A is the local answer and B the strong one, in every call: the
prompt asks to ignore the order (position bias is that paper's known limit; one call per label keeps the cost
at two strong calls). "Clearly better" is [[B]]; a tie keeps the local answer good.

Framework-free: the caller makes the calls (router.traffic_labels)."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from typing import Any

from router.budget import BudgetStatus
from router.config import LearningConfig

SHADOW_BUDGET_STATES = frozenset({"uncapped", "ok"})
_VERDICT = re.compile(r"\[\[([ABC])\]\]")

JUDGE_SYSTEM = (
    "You are an impartial judge. Compare the answers two AI assistants gave to the user's question below and "
    "decide which one answers it better: more correct, more helpful, more complete where that matters, no "
    "longer than needed. The order the answers appear in and their length must not sway you; the assistants' "
    "names say nothing. Explain your comparison in at most three sentences, then give your verdict on its own "
    'line, exactly: "[[A]]" if assistant A is clearly better, "[[B]]" if assistant B is clearly better, '
    '"[[C]]" if neither is clearly better.'
)


def judge_messages(question: str, local_answer: str, strong_answer: str) -> list[dict[str, str]]:
    user = (
        f"[User question]\n{question}\n\n"
        f"[The start of assistant A's answer]\n{local_answer}\n[The end of assistant A's answer]\n\n"
        f"[The start of assistant B's answer]\n{strong_answer}\n[The end of assistant B's answer]"
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    """The judge's last [[A]]/[[B]]/[[C]]; None when it gave none (no label then)."""
    found = _VERDICT.findall(text or "")
    return found[-1] if found else None


def verdict_outcome(verdict: str) -> tuple[bool, bool]:
    """(local_ok, strong_ok) of a verdict: B clearly better marks the local answer insufficient."""
    return {"A": (True, False), "B": (False, True), "C": (True, True)}[verdict]


def day_key(config: LearningConfig, now: dt.datetime | None = None) -> str:
    return config.shadow_key.format(day=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d"))


class ShadowGate:
    """Whether one local answer is shadowed; `client` is a redis.Redis (the day's counter)."""

    def __init__(self, client: Any, config: LearningConfig, draw: Callable[[], float] = random.random) -> None:
        self.client = client
        self.config = config
        self.draw = draw

    def wanted(self, private: bool, budget: BudgetStatus) -> bool:
        """Everything but the daily bound: no Redis round trip."""
        if private or self.config.shadow_share <= 0 or self.config.shadow_max_per_day <= 0:
            return False
        if budget.state not in SHADOW_BUDGET_STATES:
            return False
        return self.draw() < self.config.shadow_share

    def take_daily(self) -> bool:
        """One of the day's shadowed requests, if any is left (shared by every gateway process)."""
        key = day_key(self.config)
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 2 * 86400)
        count, _ = pipe.execute()
        return int(count) <= self.config.shadow_max_per_day
