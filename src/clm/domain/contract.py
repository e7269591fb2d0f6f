"""The data contract: the four input tables clm reads and the canonical columns of each.

It lives at the bottom layer because ingest validates against it, the warehouse creates its
tables from it, analytics reads columns by these names, and ``docs/data-contract.md`` is checked
against it by a test. Types are logical: ``string``, ``date``, ``timestamp``, ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | date | timestamp | float
    required: bool = False
    allowed: tuple[str, ...] = ()  # closed vocabulary, if any
    default: str | None = None
    min_value: float | None = None
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key: re-importing a row with this key replaces, never duplicates
    references_customer: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


ORDER_STATUSES = ("paid", "refunded", "cancelled")
EVENT_TYPES = (
    "page_view",
    "lead_form",
    "marketing_event",
    "onboarding_completed",
    "login",
    "feature_used",
    "content_interaction",
)
INTERACTION_TYPES = ("support_contact", "complaint", "satisfaction", "nps", "referral")

CUSTOMERS = TableContract(
    name="customers",
    key=("customer_id",),
    references_customer=False,
    columns=(
        Column("customer_id", "string", required=True, description="Stable id of the customer"),
        Column("name", "string", description="Name or nickname"),
        Column("industry", "string"),
        Column("phone", "string", description="Shown masked (138****8888)"),
        Column("email", "string", description="Shown masked (z***@example.com)"),
        Column("owner", "string", description="Responsible user (login or name)"),
        Column("acquisition_channel", "string"),
        Column("signup_date", "date"),
        Column("unsubscribed_on", "date", description="Date the customer unsubscribed from email"),
        Column("account_closed_on", "date", description="Date the account was closed"),
    ),
)

ORDERS = TableContract(
    name="orders",
    key=("order_id",),
    columns=(
        Column("order_id", "string", required=True),
        Column("customer_id", "string", required=True),
        Column("ordered_at", "timestamp", required=True),
        Column("amount", "float", required=True, min_value=0.0),
        Column("status", "string", allowed=ORDER_STATUSES, default="paid"),
    ),
)

EVENTS = TableContract(
    name="events",
    key=("customer_id", "occurred_at", "event_type", "feature"),
    columns=(
        Column("customer_id", "string", required=True),
        Column("occurred_at", "timestamp", required=True),
        Column("event_type", "string", required=True, allowed=EVENT_TYPES),
        Column("feature", "string", description="Feature name, for feature_used events"),
    ),
)

INTERACTIONS = TableContract(
    name="interactions",
    key=("customer_id", "occurred_at", "interaction_type", "score", "referred_customer_id"),
    columns=(
        Column("customer_id", "string", required=True),
        Column("occurred_at", "timestamp", required=True),
        Column("interaction_type", "string", required=True, allowed=INTERACTION_TYPES),
        Column("score", "float", description="Satisfaction (0-10) or NPS (0-10) score"),
        Column("referred_customer_id", "string", description="For referral interactions"),
    ),
)

TABLES: dict[str, TableContract] = {
    t.name: t for t in (CUSTOMERS, ORDERS, EVENTS, INTERACTIONS)
}
# Import order matters: rows of the other tables must reference a known customer.
IMPORT_ORDER: tuple[str, ...] = ("customers", "orders", "events", "interactions")
