"""The code base keeps its shape: lint clean and each layer importing only those beneath it."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(BIN)) or "ruff"
    result = _run(ruff, "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layers_import_only_layers_beneath_them():
    lint = shutil.which("lint-imports", path=str(BIN)) or "lint-imports"
    result = _run(lint)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout
