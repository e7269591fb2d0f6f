"""Commands of the operational side: ``clm reminders``, ``clm tags``, ``clm segments`` and
``clm effectiveness``. Each parses its options, calls one service on the workspace store
(``CLM_STORE_URL``, else SQLite in ``CLM_HOME``) and prints the result.

Commands act as the automated actor ``cli:<command>``: whoever may run them on the server may
already read the store, and the audit trail records which command did what.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from clm.config import Settings, get_settings
from clm.domain.i18n import normalize_locale
from clm.errors import ConfigError

# Labels printed by these commands, in both languages (a test checks both exist).
LABELS: dict[str, dict[str, str]] = {
    "ops.user": {"en": "User", "zh-CN": "用户"},
    "ops.tasks": {"en": "Tasks due", "zh-CN": "到期任务"},
    "ops.overdue": {"en": "Overdue", "zh-CN": "已逾期"},
    "ops.channels": {"en": "Channels", "zh-CN": "渠道"},
    "ops.already_sent": {"en": "Already sent today", "zh-CN": "今日已发送"},
    "ops.dry_run": {
        "en": "Dry run: nothing was sent. {users} user(s) have tasks due on {as_of}.",
        "zh-CN": "演练：未发送任何提醒。{as_of} 有 {users} 位用户有到期任务。",
    },
    "ops.sent": {
        "en": "Reminders for {as_of}: {email} e-mail(s), {webhook} webhook(s) sent; "
        "{skipped} already sent earlier.",
        "zh-CN": "{as_of} 的提醒：已发送 {email} 封邮件、{webhook} 个 Webhook；"
        "{skipped} 个此前已发送。",
    },
    "ops.failed": {"en": "Failed: {what}", "zh-CN": "发送失败：{what}"},
    "ops.tag": {"en": "Tag", "zh-CN": "标签"},
    "ops.kind": {"en": "Kind", "zh-CN": "类型"},
    "ops.label": {"en": "Label", "zh-CN": "名称"},
    "ops.rule": {"en": "Rule", "zh-CN": "规则"},
    "ops.customers": {"en": "Customers", "zh-CN": "客户数"},
    "ops.tags_applied": {
        "en": "{tag}: {matched} match, {added} added, {removed} removed",
        "zh-CN": "{tag}：匹配 {matched}，新增 {added}，移除 {removed}",
    },
    "ops.tags_none": {"en": "No rule tags are defined.", "zh-CN": "尚未定义规则标签。"},
    "ops.tag_saved": {"en": "Saved tag {tag}.", "zh-CN": "已保存标签 {tag}。"},
    "ops.tagged": {
        "en": "{tag}: {changed} of {total} customer(s) changed.",
        "zh-CN": "{tag}：{total} 位客户中 {changed} 位有变化。",
    },
    "ops.segment": {"en": "Segment", "zh-CN": "客群"},
    "ops.definition": {"en": "Definition", "zh-CN": "筛选条件"},
    "ops.members": {"en": "Members", "zh-CN": "成员数"},
    "ops.segment_saved": {
        "en": "Saved segment {name}: {size} member(s).",
        "zh-CN": "已保存客群 {name}：{size} 位成员。",
    },
    "ops.exported": {
        "en": "Wrote {rows} of {members} member(s) to {path}; left out {no_consent} without "
        "consent for {purpose} by {channel} and {erased} erased.",
        "zh-CN": "已将 {members} 位成员中的 {rows} 位写入 {path}；排除未同意 {purpose}（{channel}）"
        "的 {no_consent} 位及已删除的 {erased} 位。",
    },
    "ops.stage": {"en": "Stage", "zh-CN": "阶段"},
    "ops.playbook": {"en": "Playbook", "zh-CN": "策略版本"},
    "ops.entries": {"en": "Entries", "zh-CN": "进入数"},
    "ops.observed": {"en": "Observed", "zh-CN": "可观察"},
    "ops.pending": {"en": "Pending", "zh-CN": "观察中"},
    "ops.win_back": {"en": "Win-back", "zh-CN": "挽回率"},
    "ops.activation": {"en": "Activation", "zh-CN": "激活率"},
    "ops.churn": {"en": "Churn", "zh-CN": "流失率"},
    "ops.uplift": {"en": "Repurchase uplift", "zh-CN": "复购提升"},
    "ops.flags": {"en": "Flagged", "zh-CN": "预警"},
    "ops.no_entries": {
        "en": "No stage entries between {start} and {end}.",
        "zh-CN": "{start} 至 {end} 之间没有阶段进入记录。",
    },
    "ops.alerts": {
        "en": "Opened {n} review task(s) for the managers.",
        "zh-CN": "已为经理创建 {n} 个复盘任务。",
    },
}


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def label(key: str, locale: str, **values: object) -> str:
    text = LABELS[key][normalize_locale(locale)]
    return text.format(**values) if values else text


def _today() -> dt.date:
    return dt.date.today()


def _actor(command: str):
    from clm.services.actors import Actor

    return Actor.automated(f"cli:{command}")


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    from clm.services.publish import open_store

    store = open_store(settings)
    try:
        with store.session() as session:
            yield session
    finally:
        store.dispose()


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else _today()


DateOption = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="The day to act for (default: today)"),
]

# -- reminders ------------------------------------------------------------------------------


def _channels(settings: Settings):
    from clm.services.reminders import SmtpSettings, WebhookSettings

    smtp = webhook = None
    if settings.smtp_host:
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
    if settings.webhook_url:
        if settings.webhook_secret is None:
            raise ConfigError(
                "CLM_WEBHOOK_URL is set but CLM_WEBHOOK_SECRET is not: webhooks must be signed",
                field="webhook_secret",
            )
        webhook = WebhookSettings(
            url=settings.webhook_url, secret=settings.webhook_secret.get_secret_value()
        )
    if smtp is None and webhook is None:
        raise ConfigError(
            "reminders need CLM_SMTP_HOST, CLM_WEBHOOK_URL, or both", field="smtp_host"
        )
    return smtp, webhook


def _preview(session: Session, *, as_of: dt.date) -> list[dict]:
    """Who would be reminded of what on ``as_of``, and what was already sent (no writes)."""
    from sqlalchemy import case, func, select

    from clm.store.tables import ReminderDelivery, Task, User

    rows = session.execute(
        select(
            User.login,
            User.email,
            User.id,
            func.count(Task.id),
            func.sum(case((Task.due_on < as_of, 1), else_=0)),
        )
        .join(Task, Task.assignee_id == User.id)
        .where(Task.status == "open", Task.due_on <= as_of, User.active.is_(True))
        .group_by(User.login, User.email, User.id)
        .order_by(User.login)
    ).all()
    sent = {
        (uid, channel)
        for uid, channel in session.execute(
            select(ReminderDelivery.user_id, ReminderDelivery.channel).where(
                ReminderDelivery.sent_on == as_of
            )
        )
    }
    return [
        {
            "login": login,
            "email": email,
            "tasks": int(n),
            "overdue": int(overdue or 0),
            "sent": sorted(ch for u, ch in sent if u == uid),
        }
        for login, email, uid, n, overdue in rows
    ]


def reminders(
    as_of: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would be reminded; send nothing")
    ] = False,
) -> None:
    """Send each user their tasks due today and overdue, once per day and channel."""
    from clm.services.reminders import send_reminders

    settings = get_settings()
    locale = settings.locale
    day = _day(as_of)
    console = Console(soft_wrap=True)
    with _session(settings) as session:
        if dry_run:
            plan = _preview(session, as_of=day)
            table = Table(
                *(
                    label(k, locale)
                    for k in ("ops.user", "ops.tasks", "ops.overdue", "ops.already_sent")
                )
            )
            for row in plan:
                table.add_row(
                    row["login"],
                    str(row["tasks"]),
                    str(row["overdue"]),
                    ", ".join(row["sent"]) or "-",
                )
            console.print(table)
            console.print(label("ops.dry_run", locale, users=len(plan), as_of=day))
            return
        smtp, webhook = _channels(settings)
        report = send_reminders(session, as_of=day, smtp=smtp, webhook=webhook, locale=locale)
    console.print(
        label(
            "ops.sent",
            locale,
            as_of=day,
            email=report.sent["email"],
            webhook=report.sent["webhook"],
            skipped=report.skipped_already_sent,
        )
    )
    for failure in report.failed:
        Console(stderr=True, soft_wrap=True).print(
            label("ops.failed", locale, what=failure), markup=False, highlight=False
        )
    if report.failed:
        raise typer.Exit(1)


# -- tags -----------------------------------------------------------------------------------

tags_app = typer.Typer(help="Manual and rule-based customer tags.", no_args_is_help=True)


@tags_app.command("list")
def tags_list() -> None:
    """List the tags and how many customers carry each."""
    from clm.services.tags import list_tags

    settings = get_settings()
    locale = settings.locale
    with _session(settings) as session:
        tags = list_tags(session)
    table = Table(
        *(
            label(k, locale)
            for k in ("ops.tag", "ops.kind", "ops.label", "ops.rule", "ops.customers")
        )
    )
    zh = normalize_locale(locale) == "zh-CN"
    for tag in tags:
        table.add_row(
            tag["name"],
            tag["kind"],
            tag["label_zh"] if zh else tag["label_en"],
            tag["rule"] or "",
            str(tag["customers"]),
        )
    Console(soft_wrap=True).print(table)


@tags_app.command("define")
def tags_define(
    name: Annotated[str, typer.Argument(help="Tag id: lower-case letters, digits, - and _")],
    label_en: Annotated[str, typer.Option("--label-en", help="English label")],
    label_zh: Annotated[str, typer.Option("--label-zh", help="Chinese label")],
    rule: Annotated[
        str | None,
        typer.Option("--rule", help="Rule over the features (makes it a rule tag)"),
    ] = None,
) -> None:
    """Create or change a tag; with --rule its members are set by `clm tags apply`."""
    from clm.services.tags import define_tag

    settings = get_settings()
    with _session(settings) as session:
        define_tag(
            session,
            actor=_actor("tags define"),
            name=name,
            label_en=label_en,
            label_zh=label_zh,
            rule=rule,
        )
    Console(soft_wrap=True).print(label("ops.tag_saved", settings.locale, tag=name))


@tags_app.command("examples")
def tags_examples() -> None:
    """Define the shipped example rule tags (price-sensitive, needs-training)."""
    from clm.services.tags import install_example_tags

    settings = get_settings()
    with _session(settings) as session:
        tags = install_example_tags(session, actor=_actor("tags examples"))
    for tag in tags:
        Console(soft_wrap=True).print(label("ops.tag_saved", settings.locale, tag=tag.name))


@tags_app.command("apply")
def tags_apply(
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only this rule tag (repeatable)")
    ] = None,
) -> None:
    """Re-evaluate the rule tags over the metrics of the last run; writes only changes."""
    from clm.services.tags import apply_rule_tags

    settings = get_settings()
    console = Console(soft_wrap=True)
    with _session(settings) as session:
        report = apply_rule_tags(session, actor=_actor("tags apply"), tags=tag or None)
    if not report.matched:
        console.print(label("ops.tags_none", settings.locale))
    for name in sorted(report.matched):
        console.print(
            label(
                "ops.tags_applied",
                settings.locale,
                tag=name,
                matched=report.matched[name],
                added=report.added[name],
                removed=report.removed[name],
            )
        )


def _manual(tag: str, customers: list[str], *, add: bool) -> None:
    from clm.services.tags import tag_customer, untag_customer

    settings = get_settings()
    act = tag_customer if add else untag_customer
    with _session(settings) as session:
        changed = sum(
            act(session, actor=_actor("tags add" if add else "tags remove"), customer_id=c, tag=tag)
            for c in customers
        )
    Console(soft_wrap=True).print(
        label("ops.tagged", settings.locale, tag=tag, changed=changed, total=len(customers))
    )


@tags_app.command("add")
def tags_add(
    tag: Annotated[str, typer.Argument(help="A manual tag")],
    customers: Annotated[list[str], typer.Argument(help="Customer ids")],
) -> None:
    """Put a manual tag on customers."""
    _manual(tag, customers, add=True)


@tags_app.command("remove")
def tags_remove(
    tag: Annotated[str, typer.Argument(help="A manual tag")],
    customers: Annotated[list[str], typer.Argument(help="Customer ids")],
) -> None:
    """Take a manual tag off customers."""
    _manual(tag, customers, add=False)


# -- segments -------------------------------------------------------------------------------

segments_app = typer.Typer(
    help="Saved customer filters and audience exports.", no_args_is_help=True
)


@segments_app.command("save")
def segments_save(
    name: Annotated[str, typer.Argument(help="Segment name")],
    definition: Annotated[
        str,
        typer.Option(
            "--definition",
            help='Filter as JSON, e.g. {"stages": ["declining"], "tags_any": ["vip"]}',
        ),
    ],
) -> None:
    """Create or replace a segment and print its size."""
    from clm.services.segments import save_segment, segment_size

    settings = get_settings()
    actor = _actor("segments save")
    with _session(settings) as session:
        row = save_segment(session, actor=actor, name=name, definition=definition)
        size = segment_size(session, row.id, actor=actor)
    Console(soft_wrap=True).print(label("ops.segment_saved", settings.locale, name=name, size=size))


@segments_app.command("list")
def segments_list() -> None:
    """List the segments with their definitions and sizes."""
    from clm.services.segments import list_segments, segment_size

    settings = get_settings()
    locale = settings.locale
    actor = _actor("segments list")
    table = Table(*(label(k, locale) for k in ("ops.segment", "ops.definition", "ops.members")))
    with _session(settings) as session:
        for row in list_segments(session):
            table.add_row(row.name, row.definition, str(segment_size(session, row.id, actor=actor)))
    Console(soft_wrap=True).print(table)


@segments_app.command("export")
def segments_export(
    segment: Annotated[str, typer.Option("--segment", help="Segment name")],
    purpose: Annotated[str, typer.Option("--purpose", help="marketing, service or analytics")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    channel: Annotated[
        str, typer.Option("--channel", help="email, sms, phone, wechat or post")
    ] = "email",
    as_of: DateOption = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Write phone and e-mail unmasked (audited)")
    ] = False,
) -> None:
    """Write a segment's audience with consent for the purpose and channel to a CSV file."""
    from clm.services.segments import export_segment_csv

    settings = get_settings()
    with _session(settings) as session:
        report = export_segment_csv(
            session,
            segment,
            actor=_actor("segments export"),
            purpose=purpose,
            channel=channel,
            path=out,
            as_of=_day(as_of),
            unmask=unmask,
            locale=settings.locale,
        )
    Console(soft_wrap=True).print(
        label(
            "ops.exported",
            settings.locale,
            rows=report.rows,
            members=report.members,
            path=out,
            no_consent=report.excluded_no_consent,
            purpose=purpose,
            channel=channel,
            erased=report.excluded_erased,
        ),
        markup=False,
        highlight=False,
    )


# -- effectiveness --------------------------------------------------------------------------


def _warehouse_orders(settings: Settings):
    """The warehouse's orders table, or None when the warehouse holds none yet."""
    from clm.services.pipeline import open_workspace

    warehouse = open_workspace(settings)
    return warehouse.table("orders") if warehouse.has_table("orders") else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def effectiveness(
    start: Annotated[
        dt.datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day of entries")
    ],
    end: Annotated[
        dt.datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last day of entries")
    ],
    window_days: Annotated[
        int, typer.Option("--window-days", help="Days after entry an outcome counts")
    ] = 90,
    min_win_back_rate: Annotated[
        float | None, typer.Option("--min-win-back-rate", help="Flag a lower win-back rate")
    ] = 0.10,
    min_activation_rate: Annotated[
        float | None,
        typer.Option("--min-activation-rate", help="Flag a lower activation rate"),
    ] = None,
    max_churn_rate: Annotated[
        float | None, typer.Option("--max-churn-rate", help="Flag a higher churn rate")
    ] = None,
    min_repurchase_uplift: Annotated[
        float | None,
        typer.Option("--min-repurchase-uplift", help="Flag a lower repurchase uplift"),
    ] = None,
    min_entries: Annotated[
        int, typer.Option("--min-entries", help="Observed entries needed before flagging")
    ] = 10,
    orders: Annotated[
        bool, typer.Option("--orders/--no-orders", help="Measure repurchases from the warehouse")
    ] = True,
    alert: Annotated[
        bool, typer.Option("--alert/--no-alert", help="Open review tasks for flagged strategies")
    ] = True,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, json or csv")
    ] = OutputFormat.table,
) -> None:
    """Measure each stage strategy's win-back, activation, churn and repurchase uplift."""
    from clm.services.effectiveness import (
        Thresholds,
        raise_review_alerts,
        report_json,
        strategy_effectiveness,
    )

    settings = get_settings()
    locale = settings.locale
    thresholds = Thresholds(
        min_win_back_rate=min_win_back_rate,
        min_activation_rate=min_activation_rate,
        max_churn_rate=max_churn_rate,
        min_repurchase_uplift=min_repurchase_uplift,
        min_entries=min_entries,
    )
    order_table = _warehouse_orders(settings) if orders else None
    opened = []
    with _session(settings) as session:
        report = strategy_effectiveness(
            session,
            start=start.date(),
            end=end.date(),
            window_days=window_days,
            thresholds=thresholds,
            orders=order_table,
        )
        if alert and report.flagged:
            opened = raise_review_alerts(
                session, report, actor=_actor("effectiveness"), due_on=_today()
            )
    if output is OutputFormat.json:
        sys.stdout.write(report_json(report) + "\n")
        return
    if output is OutputFormat.csv:
        report.to_frame().assign(flags=lambda f: f["flags"].map(" ".join)).to_csv(
            sys.stdout, index=False
        )
        return
    console = Console(soft_wrap=True)
    if not report.rows:
        console.print(label("ops.no_entries", locale, start=start.date(), end=end.date()))
        return
    keys = (
        "ops.stage",
        "ops.playbook",
        "ops.entries",
        "ops.observed",
        "ops.pending",
        "ops.win_back",
        "ops.activation",
        "ops.churn",
        "ops.uplift",
        "ops.flags",
    )
    table = Table(*(label(k, locale) for k in keys))
    for row in report.rows:
        table.add_row(
            row.stage,
            "-" if row.playbook_version_id is None else str(row.playbook_version_id),
            str(row.entries),
            str(row.observed),
            str(row.pending),
            _pct(row.win_back_rate),
            _pct(row.activation_rate),
            _pct(row.churn_rate),
            _pct(row.repurchase_uplift),
            ", ".join(row.flags),
        )
    console.print(table)
    if opened:
        console.print(label("ops.alerts", locale, n=len(opened)))


def register(app: typer.Typer) -> None:
    """Attach ``reminders``, ``tags``, ``segments`` and ``effectiveness`` to ``app``."""
    app.command("reminders")(reminders)
    app.command("effectiveness")(effectiveness)
    app.add_typer(tags_app, name="tags")
    app.add_typer(segments_app, name="segments")
