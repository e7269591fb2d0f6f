"""The stage model: stages in order of precedence, their criteria, margin, minimum stay, fallback.

A ``StageModel`` is what a model file (``resources/models/*.yaml`` or a user's YAML/TOML file)
becomes once ``load_model`` has parsed and checked it; it is immutable, carries a content hash
(``version``) so every stored stage can say which model decided it, and keeps each criterion's
text and syntax tree so reasons can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from clm.analytics.rules.nodes import BOOL, AllOf, AnyOf, AtLeast, Node, Origin, features_of
from clm.domain.i18n import DEFAULT_LOCALE, normalize_locale
from clm.errors import NotFoundError


@dataclass(frozen=True)
class Labels:
    """A user-facing text in both supported languages."""

    en: str
    zh_cn: str

    def get(self, locale: str | None = DEFAULT_LOCALE) -> str:
        return self.zh_cn if normalize_locale(locale) == "zh-CN" else self.en


@dataclass(frozen=True)
class Criterion:
    """One rule expression of a model file, parsed, with its optional label."""

    text: str
    node: Node
    origin: Origin
    label: Labels | None = None


@dataclass(frozen=True)
class Stage:
    """One lifecycle stage.

    Attributes
    ----------
    requires
        A guard that must hold for the stage to apply at all (``order_count >= 1``); it is
        evaluated without margin, and when it fails the minimum stay no longer holds a customer.
    match, k
        How many ``criteria`` must hold: ``any`` (k=1), ``all`` (k=len), or ``at_least`` k.
    group
        Stages of one group are degrees of one state (declining and churned); meeting the
        criteria of a stage of *another* group than the assigned one is a grey-zone case.
    sticky
        Whether a customer stays here when no stage's criteria hold any more; a stage defined by
        a negative signal (declining) is usually not sticky: when the signal is gone the
        customer goes to the fallback instead.
    """

    id: str
    label: Labels
    criteria: tuple[Criterion, ...]
    match: str = "any"
    k: int = 1
    requires: Criterion | None = None
    group: str = ""
    min_stay_days: int = 0
    margin: float = 0.0
    sticky: bool = True
    description: Labels | None = None

    def rule(self) -> Node:
        """The criteria combined by ``match`` into one tree (the guard is kept apart)."""
        items = tuple(c.node for c in self.criteria)
        if self.match == "all":
            return AllOf(0, 0, BOOL, items)
        if self.match == "at_least":
            return AtLeast(0, 0, BOOL, self.k, items)
        return AnyOf(0, 0, BOOL, items)


@dataclass(frozen=True)
class FallbackRule:
    """Where a customer goes when nothing else decides; ``when`` None means always."""

    stage: str
    when: Criterion | None = None


@dataclass(frozen=True)
class StageModel:
    """A loaded, checked stage model (see ``docs/stage-models.md`` for the file format)."""

    id: str
    version: str
    name: Labels
    stages: tuple[Stage, ...]
    fallback: tuple[FallbackRule, ...]
    margin: float = 0.0
    min_stay_days: int = 0
    source: str = ""
    description: Labels | None = None
    text: str = ""  # the file's text: kept with the history so a version can be reloaded
    fmt: str = "yaml"

    @property
    def stage_ids(self) -> tuple[str, ...]:
        """Stage ids in order of precedence (first match wins)."""
        return tuple(s.id for s in self.stages)

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise NotFoundError(
            f"model {self.id!r} has no stage {stage_id!r}; stages are {', '.join(self.stage_ids)}",
            field="stage",
        )

    def rank(self, stage_id: str) -> int:
        """0 for the stage of highest precedence."""
        return self.stage_ids.index(self.stage(stage_id).id)

    def label(self, stage_id: str, locale: str | None = DEFAULT_LOCALE) -> str:
        """The stage's label in ``locale`` (``en`` or ``zh-CN``)."""
        return self.stage(stage_id).label.get(locale)

    def criteria(self) -> list[Criterion]:
        """Every expression of the model: guards, criteria and fallback conditions."""
        out: list[Criterion] = []
        for s in self.stages:
            out.extend(([s.requires] if s.requires else []) + list(s.criteria))
        out.extend(f.when for f in self.fallback if f.when is not None)
        return out

    @property
    def feature_names(self) -> frozenset[str]:
        """Every feature the model reads: in guards, criteria and fallback conditions."""
        return frozenset(name for c in self.criteria() for name in features_of(c.node))


def referenced_features(model: StageModel) -> frozenset[str]:
    """The feature names ``model`` reads (guards, criteria, fallback conditions).

    A caller uses it to compute costly features only for the models that name them: the value
    features (``feature_catalog.VALUE_FEATURES``: RFM, tier, CLV, P(alive)) need a ranking over
    every buyer or a model fit, which a model of base features alone should not pay for.
    """
    return model.feature_names
