"""Reading stage model files (YAML or TOML) into a checked ``StageModel``.

Users edit these files without code, so every mistake must be reported where it is: the YAML
is composed into nodes that keep their line and column, each key is checked against the fields
of the format (a typo gets the closest field), and each rule expression is parsed with its
position so an unknown feature is reported as
``default.yaml line 23, column 7: unknown feature 'days_since_last_ordr' (did you mean
'days_since_last_order'?)``. TOML has no positions in ``tomllib``; lines are then found by
searching the text, and columns are not reported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from clm.analytics.rules.model import Criterion, FallbackRule, Labels, Stage, StageModel
from clm.analytics.rules.nodes import Origin
from clm.analytics.rules.parser import closest, parse_expression
from clm.errors import NotFoundError, RuleError

MODEL_KEYS = ("id", "name", "description", "margin", "min_stay_days", "fallback", "stages")
STAGE_KEYS = (
    "id",
    "label",
    "description",
    "group",
    "requires",
    "match",
    "criteria",
    "min_stay_days",
    "margin",
    "sticky",
)
CRITERION_KEYS = ("rule", "label")
FALLBACK_KEYS = ("stage", "when")
LABEL_KEYS = ("en", "zh-CN")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MATCH = re.compile(r"^(any|all|at[_ ]least\s+(\d+))$")

Path_ = tuple[Any, ...]


def shipped_models() -> list[str]:
    """Names of the stage models shipped with clm (``default``, ``relationship``, ...)."""
    folder = resources.files("clm").joinpath("resources/models")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_model(path_or_name: str | Path) -> StageModel:
    """Load a stage model: a shipped one by name (``"default"``) or a ``.yaml``/``.toml`` file.

    Raises
    ------
    NotFoundError
        No such shipped model or file.
    RuleError
        The file is invalid; the message names the file, the line and the culprit.
    """
    text_name = str(path_or_name)
    is_path = isinstance(path_or_name, Path) or any(c in text_name for c in "/\\.")
    if not is_path:
        names = shipped_models()
        if text_name not in names:
            hint = closest(text_name, names)
            raise NotFoundError(
                f"no shipped stage model {text_name!r} (did you mean {hint!r}?); "
                f"shipped: {', '.join(names)}",
                field="model",
            )
        res = resources.files("clm").joinpath(f"resources/models/{text_name}.yaml")
        return parse_model(res.read_text("utf-8"), filename=f"{text_name}.yaml")
    path = Path(path_or_name)
    if not path.is_file():
        raise NotFoundError(f"stage model file {path} does not exist", file=str(path))
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: not UTF-8 text ({exc.reason})", file=str(path)) from None
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    return parse_model(text, filename=str(path), fmt=fmt)


def model_version(text: str) -> str:
    """A stable content hash of a model file: sha256 of the text with LF line ends, 12 hex."""
    canonical = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def parse_model(text: str, *, filename: str = "model.yaml", fmt: str = "yaml") -> StageModel:
    """Build a ``StageModel`` from the text of a model file (``fmt`` ``yaml`` or ``toml``)."""
    reader = _TomlReader(text, filename) if fmt == "toml" else _YamlReader(text, filename)
    model = _Builder(reader, filename).model(version=model_version(text))
    return dataclasses.replace(model, text=text, fmt=fmt)


# -- sources of values and positions ------------------------------------------------------------
class _YamlReader:
    """YAML data plus the position of every value and key, by path."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.marks: dict[Path_, Origin] = {}
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise RuleError(f"{filename}: the file is empty", file=filename)
            self.data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark else None
            raise RuleError(
                f"{filename} line {line}: not valid YAML: {exc.problem}", file=filename, line=line
            ) from None
        except yaml.YAMLError as exc:
            raise RuleError(f"{filename}: not valid YAML: {exc}", file=filename) from None
        finally:
            loader.dispose()
        self._mark(node, ())

    def _mark(self, node: yaml.Node, path: Path_) -> None:
        start, end = node.start_mark, node.end_mark
        if isinstance(node, yaml.ScalarNode):
            one_line = start.line == end.line
            quoted = node.style in ("'", '"')
            exact = one_line and node.style in (None, "'", '"') and "\\" not in node.value
            line = start.line + 1 + (1 if node.style in ("|", ">") else 0)
            self.marks[path] = Origin(self.filename, line, start.column + 1 + quoted, exact)
            return
        self.marks[path] = Origin(self.filename, start.line + 1, start.column + 1)
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._mark(item, (*path, i))
        elif isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                origin = Origin(self.filename, key_node.start_mark.line + 1)
                if key in seen:
                    raise RuleError(
                        f"{self.filename} line {origin.line}: key {key!r} appears twice",
                        file=self.filename,
                        line=origin.line,
                        field=key,
                    )
                seen.add(key)
                self.marks[(*path, "<key>", key)] = origin
                self._mark(value_node, (*path, key))

    def where(self, path: Path_) -> Origin:
        while path and path not in self.marks:
            path = path[:-1]
        return self.marks.get(path, Origin(self.filename, 1, 1, exact=False))


class _TomlReader:
    """TOML data; positions are found by searching the text (lines only)."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.lines = text.splitlines()
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = re.search(r"line (\d+)", str(exc))
            line = int(match.group(1)) if match else None
            raise RuleError(
                f"{filename}: not valid TOML: {exc}", file=filename, line=line
            ) from None
        self.marks: dict[Path_, Origin] = {}

    def where(self, path: Path_, needle: str | None = None) -> Origin:
        if needle is None and path:
            needle = str(path[-1]) if path[-1] != "<key>" else None
        for i, line in enumerate(self.lines, start=1):
            if needle and needle in line:
                return Origin(self.filename, i, 1, exact=False)
        return Origin(self.filename, 1, 1, exact=False)


# -- building the model --------------------------------------------------------------------------
class _Builder:
    def __init__(self, reader: _YamlReader | _TomlReader, filename: str) -> None:
        self.r = reader
        self.filename = filename

    def origin(self, path: Path_, needle: str | None = None) -> Origin:
        if isinstance(self.r, _TomlReader):
            return self.r.where(path, needle)
        return self.r.where(path)

    def fail(
        self, path: Path_, message: str, *, needle: str | None = None, **ctx: Any
    ) -> RuleError:
        o = self.origin(path, needle)
        return RuleError(
            f"{self.filename} line {o.line}: {message}", file=self.filename, line=o.line, **ctx
        )

    def mapping(self, value: Any, path: Path_, keys: tuple[str, ...], what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping of {', '.join(keys)}")
        for key in value:
            if key not in keys:
                hint = closest(str(key), keys)
                raise self.fail(
                    (*path, "<key>", key),
                    f"{what}: unknown key {key!r} (did you mean {hint!r}?)",
                    needle=f"{key}",
                    field=str(key),
                    suggestion=hint,
                )
        return value

    def labels(self, value: Any, path: Path_, what: str) -> Labels:
        if not isinstance(value, dict) or any(
            not isinstance(value.get(k), str) or not value.get(k).strip() for k in LABEL_KEYS
        ):
            raise self.fail(
                path, f"{what} needs texts in both en and zh-CN: {{en: ..., zh-CN: ...}}"
            )
        self.mapping(value, path, LABEL_KEYS, what)
        return Labels(value["en"].strip(), value["zh-CN"].strip())

    def expression(
        self, value: Any, path: Path_, what: str, label: Labels | None = None
    ) -> Criterion:
        origin = self.origin(path, needle=value if isinstance(value, str) else None)
        if not isinstance(value, str):
            raise self.fail(path, f"{what} must be a rule expression (text), got {value!r}")
        node = parse_expression(value, origin=origin)
        return Criterion(value, node, origin, label)

    def number(self, value: Any, path: Path_, what: str, *, lo: float, hi: float, whole: bool):
        ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
            kind = "a whole number" if whole else "a number"
            raise self.fail(path, f"{what} must be {kind} from {lo:g} to {hi:g}, got {value!r}")
        return value

    def model(self, *, version: str) -> StageModel:
        data = self.mapping(self.r.data, (), MODEL_KEYS, "model")
        for key in ("id", "name", "stages"):
            if key not in data:
                raise self.fail((), f"model: missing required key {key!r}", field=key)
        model_id = self.ident(data["id"], ("id",), "model id")
        margin = self.number(
            data.get("margin", 0.0), ("margin",), "margin", lo=0, hi=0.9, whole=False
        )
        min_stay = self.number(
            data.get("min_stay_days", 0),
            ("min_stay_days",),
            "min_stay_days",
            lo=0,
            hi=3650,
            whole=True,
        )
        stages_raw = data["stages"]
        if not isinstance(stages_raw, list) or not stages_raw:
            raise self.fail(("stages",), "stages must be a non-empty list")
        stages = tuple(
            self.stage(raw, ("stages", i), margin=margin, min_stay=min_stay)
            for i, raw in enumerate(stages_raw)
        )
        ids = [s.id for s in stages]
        for i, sid in enumerate(ids):
            if sid in ids[:i]:
                raise self.fail(
                    ("stages", i, "id"), f"stage id {sid!r} appears twice", needle=f"{sid}"
                )
        fallback = self.fallback(data.get("fallback"), ids)
        return StageModel(
            id=model_id,
            version=version,
            name=self.labels(data["name"], ("name",), "name"),
            stages=stages,
            fallback=fallback,
            margin=float(margin),
            min_stay_days=int(min_stay),
            source=self.filename,
            description=self.labels(data["description"], ("description",), "description")
            if "description" in data
            else None,
        )

    def ident(self, value: Any, path: Path_, what: str) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(
                path,
                f"{what} must be lower-case letters, digits and _, got {value!r}",
                needle=str(value),
            )
        return value

    def stage(self, raw: Any, path: Path_, *, margin: float, min_stay: int) -> Stage:
        named = isinstance(raw, dict) and isinstance(raw.get("id"), str)
        where = f"stage {raw['id']!r}" if named else f"stage {path[-1] + 1}"
        data = self.mapping(raw, path, STAGE_KEYS, where)
        for key in ("id", "label", "criteria"):
            if key not in data:
                raise self.fail(path, f"{where}: missing required key {key!r}", field=key)
        sid = self.ident(data["id"], (*path, "id"), "stage id")
        what = f"stage {sid!r}"
        crit_raw = data["criteria"]
        if not isinstance(crit_raw, list) or not crit_raw:
            raise self.fail((*path, "criteria"), f"{what}: criteria must be a non-empty list")
        criteria = tuple(
            self.criterion(c, (*path, "criteria", i), what) for i, c in enumerate(crit_raw)
        )
        match, k = self.match(data.get("match", "any"), (*path, "match"), what, len(criteria))
        sticky = data.get("sticky", True)
        if not isinstance(sticky, bool):
            raise self.fail((*path, "sticky"), f"{what}: sticky must be true or false")
        group = data.get("group", sid)
        if not isinstance(group, str) or not group:
            raise self.fail((*path, "group"), f"{what}: group must be a name")
        return Stage(
            id=sid,
            label=self.labels(data["label"], (*path, "label"), f"{what} label"),
            criteria=criteria,
            match=match,
            k=k,
            requires=self.expression(data["requires"], (*path, "requires"), f"{what} requires")
            if "requires" in data
            else None,
            group=group,
            min_stay_days=int(
                self.number(
                    data.get("min_stay_days", min_stay),
                    (*path, "min_stay_days"),
                    f"{what} min_stay_days",
                    lo=0,
                    hi=3650,
                    whole=True,
                )
            ),
            margin=float(
                self.number(
                    data.get("margin", margin),
                    (*path, "margin"),
                    f"{what} margin",
                    lo=0,
                    hi=0.9,
                    whole=False,
                )
            ),
            sticky=sticky,
            description=self.labels(
                data["description"], (*path, "description"), f"{what} description"
            )
            if "description" in data
            else None,
        )

    def criterion(self, raw: Any, path: Path_, what: str) -> Criterion:
        if isinstance(raw, dict):
            data = self.mapping(raw, path, CRITERION_KEYS, f"{what} criterion")
            if "rule" not in data:
                raise self.fail(path, f"{what}: a criterion needs 'rule'", field="rule")
            label = (
                self.labels(data["label"], (*path, "label"), f"{what} criterion label")
                if "label" in data
                else None
            )
            return self.expression(data["rule"], (*path, "rule"), what, label)
        return self.expression(raw, path, what)

    def match(self, raw: Any, path: Path_, what: str, n: int) -> tuple[str, int]:
        found = _MATCH.match(str(raw).strip().lower()) if isinstance(raw, str) else None
        if found is None:
            raise self.fail(
                path, f"{what}: match must be 'any', 'all' or 'at_least N', got {raw!r}"
            )
        if found.group(1) == "any":
            return "any", 1
        if found.group(1) == "all":
            return "all", n
        k = int(found.group(2))
        if not 1 <= k <= n:
            raise self.fail(path, f"{what}: match at_least {k} needs 1 to {n} (the criteria count)")
        return "at_least", k

    def fallback(self, raw: Any, ids: list[str]) -> tuple[FallbackRule, ...]:
        path: Path_ = ("fallback",)
        if raw is None:
            return (FallbackRule(ids[-1]),)
        entries = [{"stage": raw}] if isinstance(raw, str) else raw
        if not isinstance(entries, list) or not entries:
            raise self.fail(path, "fallback must be a stage id or a list of {stage, when}")
        rules = []
        for i, entry in enumerate(entries):
            epath = path if isinstance(raw, str) else (*path, i)
            data = self.mapping(entry, epath, FALLBACK_KEYS, "fallback entry")
            stage = data.get("stage")
            if stage not in ids:
                hint = closest(str(stage), ids)
                raise self.fail(
                    (*epath, "stage") if not isinstance(raw, str) else epath,
                    f"fallback: unknown stage {stage!r} (did you mean {hint!r}?)",
                    needle=str(stage),
                    field="stage",
                    suggestion=hint,
                )
            when = (
                self.expression(data["when"], (*epath, "when"), "fallback when")
                if "when" in data
                else None
            )
            rules.append(FallbackRule(stage, when))
        if rules[-1].when is not None:
            raise self.fail(
                path, "fallback: the last entry must have no 'when', so every customer gets a stage"
            )
        return tuple(rules)
