"""The customer archetypes of the demo company: the latent journey each demo customer follows.

Every demo customer walks the same road -- browse, first order, onboarding, growth, maturity,
decline, churn, return (spec section 2) -- and the archetype says how far along that road the
customer is on the demo's end date. The archetype is therefore also the stage a sound stage
engine should assign at the end date (``expected_stage``), which lets tests compare the engine
with the story that generated the data. ``docs/demo.md`` tells the story in prose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Archetype:
    """One journey: its share of the demo customers and the stage it should end in.

    ``label`` and ``description`` are keyed by locale (``en``, ``zh-CN``), like every label
    a user reads.
    """

    name: str
    share: float
    expected_stage: str
    label: dict[str, str]
    description: dict[str, str]


def _a(name: str, share: float, stage: str, en: str, zh: str, en_text: str,
       zh_text: str) -> Archetype:
    return Archetype(name, share, stage, {"en": en, "zh-CN": zh},
                     {"en": en_text, "zh-CN": zh_text})


ARCHETYPES: tuple[Archetype, ...] = (
    _a("prospect", 0.20, "prospect", "Prospect", "潜在客户",
       "Browses, fills lead forms, joins events, never buys",
       "浏览、留资、参加活动，从未下单"),
    _a("new", 0.06, "new", "New buyer", "新客户",
       "First order in the last 30 days, onboarding",
       "近30天首单，完成新手引导"),
    _a("growing", 0.15, "growing", "Growing", "成长客户",
       "Repurchases speed up, order value and feature use rise",
       "复购加快，客单价与功能使用上升"),
    _a("mature", 0.20, "mature", "Mature", "成熟客户",
       "Orders every month, high spend, refers new customers",
       "每月下单，高消费，推荐新客户"),
    _a("declining", 0.13, "declining", "Declining", "衰退客户",
       "Order gaps widen, usage halves, support contacts drop",
       "下单间隔拉长，使用量减半，客服接触减少"),
    _a("churned", 0.22, "churned", "Churned", "流失客户",
       "Silent for more than 90 days; some unsubscribe or close the account",
       "超过90天无交易；部分退订或注销账户"),
    _a("returned", 0.04, "new", "Returned", "回流客户",
       "Churned for months, then a win-back order in the last 30 days",
       "流失数月后，近30天被挽回并再次下单"),
)

BY_NAME: dict[str, Archetype] = {a.name: a for a in ARCHETYPES}
NAMES: tuple[str, ...] = tuple(a.name for a in ARCHETYPES)
CODE: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


def allocate(total: int) -> np.ndarray:
    """Customers per archetype (in ``ARCHETYPES`` order) summing exactly to ``total``.

    Largest-remainder rounding of ``share * total``, so the shares hold to within one customer
    and the allocation does not depend on the random seed.
    """
    shares = np.array([a.share for a in ARCHETYPES])
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts
