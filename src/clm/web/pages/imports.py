"""The import page: upload a file for one table, map its columns, see the validation report,
download the quarantined rows.

Uploads are kept under ``CLM_HOME/uploads/<token>/`` (the token is random, so one user cannot
guess another's upload); the quarantine of each import is written beside the file as CSV. The
reading, mapping and validation are ingest's (``clm.ingest.import_file``); this page only
collects the file and the user's mapping and shows the result.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Annotated

import duckdb
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from clm.config import IngestConfig, ProjectConfig
from clm.domain.contract import IMPORT_ORDER, TABLES
from clm.errors import ClmError, DataFileError, InputError, NotFoundError
from clm.ingest import import_file, quarantine_frame
from clm.ingest.mapping import resolve_columns
from clm.ingest.readers import read_file
from clm.web.context import CsrfDep, StateDep, UserDep, render
from clm.web.pages.models import _warehouse

router = APIRouter()
UPLOADS = "uploads"
META = "upload.meta"  # no data-file extension, so it is never taken for the upload
MAX_UPLOAD = 200 * 1024 * 1024
PREVIEW_ROWS = 50
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _upload_dir(state, token: str) -> Path:
    if not _TOKEN.match(token):
        raise NotFoundError("no such upload", field="token")
    folder = state.settings.home / UPLOADS / token
    if not folder.is_dir():
        raise NotFoundError("no such upload (it may have been cleaned up)", field="token")
    return folder


def _meta(folder: Path) -> dict:
    return json.loads((folder / META).read_text("utf-8"))


def _uploaded_file(folder: Path) -> Path:
    path = folder / ("data" + Path(_meta(folder)["file"]).suffix.lower())
    if not path.is_file():
        raise NotFoundError("the upload holds no data file", field="token")
    return path


def file_headers(path: Path, *, table: str, name: str) -> list[str]:
    """The headers of an uploaded file, read the way the import will read them."""
    with tempfile.TemporaryDirectory(prefix="clm-web-headers-") as tmp, \
            closing(duckdb.connect()) as con:
        result = read_file(con, path, table=table, file=name, encoding="auto",
                           workdir=Path(tmp))
        return list(result.staged.headers)


def suggested_mapping(headers: list[str], *, table: str, file: str) -> dict[str, str]:
    """Contract column -> header, as the importer would map it on its own."""
    try:
        return dict(resolve_columns(headers, table=table, file=file).sources)
    except ClmError:
        lowered = {h.strip().lower(): h for h in headers}
        return {c: lowered[c] for c in TABLES[table].column_names if c in lowered}


@router.get("/import")
def import_page(request: Request, user: UserDep) -> Response:
    """Show the upload form."""
    return render(request, "import.html", user=user, tables=IMPORT_ORDER, step="upload")


@router.post("/import/upload", dependencies=[CsrfDep])
async def upload(
    request: Request,
    state: StateDep,
    user: UserDep,
    table: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Keep the uploaded file and show its columns mapped onto the data contract."""
    name = Path(file.filename or "upload.csv").name
    try:
        if table not in TABLES:
            raise InputError(f"unknown table {table!r}", field="table")
        if Path(name).suffix.lower() not in (".csv", ".xlsx"):
            raise InputError(f"{name}: upload a .csv or .xlsx file", field="file")
        token = secrets.token_urlsafe(18)
        folder = state.settings.home / UPLOADS / token
        folder.mkdir(parents=True)
        path = folder / ("data" + Path(name).suffix.lower())  # never clashes with our files
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise InputError(f"{name}: larger than {MAX_UPLOAD >> 20} MB", field="file")
                out.write(chunk)
        meta = {"table": table, "file": name, "user": user.id}
        (folder / META).write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        headers = file_headers(path, table=table, name=name)
    except ClmError as exc:
        return render(request, "import.html", user=user, tables=IMPORT_ORDER, step="upload",
                      error=exc, status_code=422)
    return render(
        request,
        "import.html",
        user=user,
        step="map",
        token=token,
        table=table,
        file=name,
        headers=headers,
        contract=TABLES[table],
        mapping=suggested_mapping(headers, table=table, file=name),
    )


@router.post("/import/run", dependencies=[CsrfDep])
async def run_import(request: Request, state: StateDep, user: UserDep) -> Response:
    """Import the uploaded file with the chosen mapping and show the validation report."""
    form = await request.form()
    token = str(form.get("token") or "")
    folder = _upload_dir(state, token)
    meta = _meta(folder)
    table, name = meta["table"], meta["file"]
    path = _uploaded_file(folder)
    chosen = {
        str(k)[4:]: str(v) for k, v in form.items() if str(k).startswith("map:") and str(v)
    }
    columns = {header: column for column, header in chosen.items()}
    try:
        if len(columns) != len(chosen):
            raise InputError("two contract columns are mapped to the same header", field="map")
        config = ProjectConfig(ingest=IngestConfig(columns={table: columns}))
        with _warehouse(state) as warehouse:
            report = import_file(path, table=table, warehouse=warehouse, config=config,
                                 source_name=name)
    except ClmError as exc:
        headers = file_headers(path, table=table, name=name)
        return render(request, "import.html", user=user, step="map", token=token, table=table,
                      file=name, headers=headers, contract=TABLES[table],
                      mapping=chosen or suggested_mapping(headers, table=table, file=name),
                      error=exc, status_code=422)
    quarantine = quarantine_frame(report)
    quarantine.to_csv(folder / "quarantine.csv", index=False, encoding="utf-8-sig")
    refreshed = _refresh(state)
    return render(
        request,
        "import.html",
        user=user,
        step="report",
        token=token,
        table=table,
        report=report,
        rows=quarantine.head(PREVIEW_ROWS).to_dict(orient="records"),
        refreshed=refreshed,
    )


def _refresh(state) -> bool:
    """Re-evaluate stages after an upload when the refresh service is available."""
    try:
        from clm.services import refresh
    except ImportError:  # pragma: no cover - shipped by the operations work
        return False
    refresh.refresh_after_import(state.settings)
    return True


@router.get("/import/{token}/quarantine.csv")
def download_quarantine(state: StateDep, user: UserDep, token: str) -> Response:
    """Download the quarantined rows of an upload: file, line, field, reason, the row."""
    folder = _upload_dir(state, token)
    path = folder / "quarantine.csv"
    if not path.is_file():
        raise DataFileError("this upload has not been imported yet", field="token")
    return FileResponse(path, media_type="text/csv; charset=utf-8",
                        filename=f"quarantine-{Path(_meta(folder)['file']).stem}.csv")


@router.get("/import/quarantine.csv")
def download_last_quarantine(state: StateDep, user: UserDep) -> Response:
    """Download every quarantined row the warehouse holds (the last import of each file)."""
    from clm.ingest.load import QUARANTINE_TABLE

    folder = Path(tempfile.mkdtemp(prefix="clm-quarantine-"))
    path = folder / "quarantine.csv"
    with _warehouse(state) as warehouse:
        if warehouse.has_table(QUARANTINE_TABLE):
            frame = warehouse.table(QUARANTINE_TABLE).order_by(["file", "line"]).execute()
        else:
            frame = None
    columns = ["file", "line", "field", "reason", "raw"]
    import pandas as pd

    frame = pd.DataFrame(columns=columns) if frame is None else frame[columns]
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    from starlette.background import BackgroundTask

    def _cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    return FileResponse(path, media_type="text/csv; charset=utf-8", filename="quarantine.csv",
                        background=BackgroundTask(_cleanup))
