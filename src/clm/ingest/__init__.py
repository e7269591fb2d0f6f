"""Reading a company's own files into the warehouse: detect, map, validate, quarantine, load.

Entry points: :func:`import_folder` (the CLI's ``run``) and :func:`import_file` (the upload
page). Both return counts that satisfy ``read == imported + quarantined`` per file, and keep
every rejected row with its file, line, field, reason and original values
(:func:`quarantine_frame`). The contract they enforce is ``docs/data-contract.md``.
"""

from clm.ingest.importer import import_file, import_folder
from clm.ingest.report import (
    QUARANTINE_COLUMNS,
    QUARANTINE_SCHEMA,
    FileReport,
    ImportReport,
    quarantine_frame,
)

__all__ = [
    "QUARANTINE_COLUMNS",
    "QUARANTINE_SCHEMA",
    "FileReport",
    "ImportReport",
    "import_file",
    "import_folder",
    "quarantine_frame",
]
