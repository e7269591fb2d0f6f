"""The stage-model editor and the playbook editor.

A stage model is edited either criterion by criterion (each rule's text, where the thresholds
live) or as the whole YAML file; both end as model text parsed by ``parse_model``, so an error
names the line it is on. Before saving, the preview rebuilds the proposed model's history in
scratch tables (``services.model_change.preview_model_change``) and shows who would move
between which stages, with example customers. Saving rebuilds the history under the new version
and makes it active; the model text is kept under ``CLM_HOME/models/<version>.yaml``.
The playbook is edited the same way and stored as a new version by ``services.playbooks``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from contextlib import contextmanager
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from clm.analytics.rules import StageModel, model_version, parse_model, shipped_models
from clm.errors import ClmError, InputError, RuleError
from clm.services.dashboard import data_as_of
from clm.services.playbooks import (
    active_playbook,
    default_playbook,
    parse_playbook,
    playbook_versions,
    save_playbook,
)
from clm.web.context import (
    CsrfDep,
    DbDep,
    StateDep,
    UserDep,
    parse_date,
    redirect,
    render,
    request_locale,
)
from clm.web.labels import stage_label

router = APIRouter()
MODEL_DIR = "models"
_PLAIN = re.compile(r"^[A-Za-z_(][^#:]*$")


@contextmanager
def _warehouse(state):
    """The warehouse, opened for one request only: a DuckDB file admits one writer, and the
    batch run must be able to open it between requests."""
    from clm.services.pipeline import open_workspace

    warehouse = open_workspace(state.settings)
    try:
        yield warehouse
    finally:
        disconnect = getattr(warehouse.con, "disconnect", None)
        if disconnect:
            disconnect()


def _shipped_text(name: str) -> str:
    return resources.files("clm").joinpath(f"resources/models/{name}.yaml").read_text("utf-8")


def active_model_text(state, warehouse) -> tuple[str, str]:
    """The text and file name of the model whose history is active (default: ``default``)."""
    from clm.services.model_change import active_version

    version = active_version(warehouse)
    saved = state.settings.home / MODEL_DIR / f"{version}.yaml"
    if version and saved.is_file():
        return saved.read_text("utf-8"), saved.name
    for name in shipped_models():
        text = _shipped_text(name)
        if model_version(text) == version:
            return text, f"{name}.yaml"
    return _shipped_text("default"), "default.yaml"


def apply_rule_edits(text: str, model: StageModel, edits: dict[str, str]) -> str:
    """Replace criterion rule texts in the model file, in place, keeping comments and layout.

    ``edits`` maps ``"<line>:<column>"`` (the criterion's origin) to its new rule text.
    """
    lines = text.splitlines(keepends=True)
    by_origin = {f"{c.origin.line}:{c.origin.column}": c for c in model.criteria()}
    for key, new in sorted(edits.items(), key=lambda kv: _origin_key(kv[0]), reverse=True):
        criterion = by_origin.get(key)
        new = " ".join(new.split())
        if criterion is None or not new or new == criterion.text:
            continue
        if not criterion.origin.exact:
            raise RuleError(
                f"line {criterion.origin.line}: this rule spans several lines; edit it in the "
                "YAML text instead",
                line=criterion.origin.line,
            )
        i, start = criterion.origin.line - 1, criterion.origin.column - 1
        line = lines[i]
        end = start + len(criterion.text)
        quoted = line[start - 1 : start] in {'"', "'"}
        if quoted:
            start, end = start - 1, end + 1
        value = new if _PLAIN.match(new) and not quoted else json.dumps(new, ensure_ascii=False)
        lines[i] = line[:start] + value + line[end:]
    return "".join(lines)


def _origin_key(key: str) -> tuple[int, int]:
    line, column = key.split(":")
    return int(line), int(column)


def _criteria_rows(model: StageModel, locale: str) -> list[dict]:
    rows = []
    for stage in model.stages:
        for c in stage.criteria:
            rows.append({
                "stage": stage.id,
                "stage_label": model.label(stage.id, locale),
                "key": f"{c.origin.line}:{c.origin.column}",
                "text": c.text,
                "label": c.label.get(locale) if c.label else "",
                "line": c.origin.line,
                "editable": c.origin.exact,
            })
    return rows


def _proposed(text: str, mode: str, edits: dict[str, str], base_name: str) -> str:
    """The model text to preview or save, from the YAML box or from the per-rule form."""
    if mode == "form":
        base = parse_model(text, filename=base_name)
        return apply_rule_edits(text, base, edits)
    return text


async def _edits(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k[5:]: str(v) for k, v in form.items() if k.startswith("rule:")}


@router.get("/models")
def model_editor(request: Request, state: StateDep, session: DbDep, user: UserDep) -> Response:
    """Show the active stage model as a form of rules and as YAML."""
    with _warehouse(state) as warehouse:
        text, name = active_model_text(state, warehouse)
    model = parse_model(text, filename=name)
    return render(
        request,
        "models.html",
        user=user,
        model=model,
        text=text,
        name=name,
        rows=_criteria_rows(model, request_locale(request)),
        as_of=data_as_of(session),
        shipped=shipped_models(),
    )


@router.post("/models/preview", dependencies=[CsrfDep])
async def model_preview(
    request: Request, state: StateDep, session: DbDep, user: UserDep
) -> Response:
    """Preview who would move between stages under the edited model, before saving."""
    from clm.services.model_change import preview_model_change

    user.actor.require("playbooks:edit")
    form = await request.form()
    mode = str(form.get("mode", "yaml"))
    name = str(form.get("name", "model.yaml"))
    text = str(form.get("text", ""))
    try:
        proposed_text = _proposed(text, mode, await _edits(request), name)
        proposed = parse_model(proposed_text, filename=name)
        as_of = parse_date(str(form.get("as_of") or ""), field="as_of") or data_as_of(session)
        if as_of is None:
            raise InputError("no engine run yet: run `clm run` before previewing a model")
        with _warehouse(state) as warehouse:
            diff = preview_model_change(warehouse, proposed=proposed, as_of=as_of)
    except ClmError as exc:
        return render(request, "_model_error.html", user=user, error=exc)
    locale = request_locale(request)
    matrix = [
        {
            "from": stage_label(r.from_stage, locale) if r.from_stage else "-",
            "to": proposed.label(r.to_stage, locale) if r.to_stage in proposed.stage_ids
            else stage_label(r.to_stage, locale),
            "moved": (r.from_stage or "") != r.to_stage,
            "customers": int(r.customers),
            "examples": list(r.examples),
        }
        for r in diff.matrix.itertuples()
    ]
    matrix.sort(key=lambda m: (not m["moved"], -m["customers"]))  # the moves first
    return render(
        request,
        "_model_preview.html",
        user=user,
        diff=diff,
        matrix=matrix,
        proposed=proposed,
        proposed_text=proposed_text,
        name=name,
    )


@router.post("/models/save", dependencies=[CsrfDep])
def model_save(
    request: Request,
    state: StateDep,
    session: DbDep,
    user: UserDep,
    text: Annotated[str, Form()],
    name: Annotated[str, Form()] = "model.yaml",
) -> Response:
    """Save the previewed model as a new version and rebuild the stage history under it."""
    from clm.services import restage
    from clm.services.model_change import preview_model_change, save_model_change

    user.actor.require("playbooks:edit")
    proposed = parse_model(text, filename=name)
    as_of = data_as_of(session) or dt.date.today()
    folder = state.settings.home / MODEL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{proposed.version}.yaml").write_text(text, "utf-8")
    with _warehouse(state) as warehouse:
        preview_model_change(warehouse, proposed=proposed, as_of=as_of)
        save_model_change(warehouse, proposed=proposed)
    restage.refresh_after_import(state.settings, as_of=as_of)  # the store follows the new model
    return redirect(f"/models?saved={proposed.version}")


# -- playbook -------------------------------------------------------------------------------


@router.get("/playbook")
def playbook_editor(request: Request, session: DbDep, user: UserDep) -> Response:
    """Show the playbook in force, stage by stage and as YAML."""
    found = active_playbook(session)
    playbook = found[0] if found else default_playbook()
    return render(
        request,
        "playbook.html",
        user=user,
        playbook=playbook,
        text=playbook.content,
        versions=playbook_versions(session)[:10],
        stage_label=stage_label,
        saved=request.query_params.get("saved"),
    )


@router.post("/playbook/check", dependencies=[CsrfDep])
def playbook_check(request: Request, user: UserDep, text: Annotated[str, Form()]) -> Response:
    """Validate the edited playbook and say which line is wrong."""
    try:
        playbook = parse_playbook(text, file="playbook.yaml")
    except ClmError as exc:
        return render(request, "_model_error.html", user=user, error=exc)
    return render(request, "_playbook_ok.html", user=user, playbook=playbook,
                  stage_label=stage_label)


@router.post("/playbook", dependencies=[CsrfDep])
def playbook_save(
    request: Request, session: DbDep, user: UserDep, text: Annotated[str, Form()]
) -> Response:
    """Store the edited playbook as a new version in force."""
    try:
        playbook = parse_playbook(text, file="playbook.yaml")
        row = save_playbook(session, actor=user.actor, playbook=playbook)
    except ClmError as exc:
        session.rollback()
        return render(request, "playbook.html", user=user, playbook=None, text=text,
                      versions=playbook_versions(session)[:10], stage_label=stage_label,
                      error=exc, status_code=422)
    return redirect(f"/playbook?saved={row.id}")
