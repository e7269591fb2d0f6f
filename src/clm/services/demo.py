"""The demo: generate a company's exports, then run the batch pipeline over them.

It writes the generated files to ``OUT/data`` exactly as a user's exports would look, so the
demo exercises the same import path (lenient parsing, quarantine) as real data does. Before the
run it creates the demo's team (the owners named in the data, each with a role) so the stage
tasks land with real people; they all share ``DEMO_PASSWORD``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from clm.config import Settings
from clm.datasets.demo import generate_demo, write_demo
from clm.services.actors import Actor
from clm.services.pipeline import RunProgress, RunResult, run_pipeline
from clm.services.publish import open_store
from clm.services.users import create_user
from clm.store.tables import User

DEMO_PASSWORD = "clm-demo-2025"
# login, name as it appears in the demo's owner column, role
DEMO_TEAM: tuple[tuple[str, str, str], ...] = (
    ("wangfang", "王芳", "sales"),
    ("liqiang", "李强", "sales"),
    ("emily", "Emily Chen", "success"),
    ("david", "David Wang", "manager"),
    ("chenjing", "陈静", "support"),
    ("michael", "Michael Brown", "marketing"),
)


def ensure_demo_team(settings: Settings) -> int:
    """Create the demo's users that do not exist yet; returns how many were created."""
    store = open_store(settings)
    created = 0
    try:
        with store.session() as session:
            known = set(session.scalars(select(User.login)))
            for login, name, role in DEMO_TEAM:
                if login not in known:
                    create_user(
                        session,
                        actor=Actor.system(),
                        login=login,
                        name=name,
                        role=role,
                        password=DEMO_PASSWORD,
                        email=f"{login}@example.com",
                    )
                    created += 1
    finally:
        store.dispose()
    return created


def run_demo(
    *,
    out: Path,
    settings: Settings,
    customers: int = 5000,
    seed: int = 7,
    progress: RunProgress | None = None,
) -> RunResult:
    """Generate the demo company into ``out/data`` and run the pipeline as of its last day."""
    data = generate_demo(customers=customers, seed=seed)
    data_dir = out / "data"
    write_demo(data, data_dir)
    ensure_demo_team(settings)
    return run_pipeline(
        data_dir=data_dir, as_of=data.end, out=out, settings=settings, progress=progress
    )
