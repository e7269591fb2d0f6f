"""Who acts: users with a role, or an automated run. Roles, permissions and their labels.

Every service takes an ``Actor`` so it can check permissions and write the audit row with the
right "who": a signed-in user, or an automated engine run (``run_id`` plus ``model_version``).
The role table below is the one place permissions are granted; ``docs/operations.md`` shows it
and a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from clm.errors import PermissionDeniedError

ROLES: tuple[str, ...] = ("admin", "manager", "sales", "marketing", "success", "support", "product")

PERMISSIONS: dict[str, str] = {
    "customers:all": "See every customer, not only the ones you own",
    "contacts:unmask": "See phone numbers and e-mail addresses unmasked (each read is audited)",
    "tasks:all": "See, reassign and complete other users' tasks",
    "followups:write": "Record follow-ups on visible customers",
    "playbooks:edit": "Change the playbook (a new version is stored)",
    "users:manage": "Create users, change roles, issue tokens for others",
    "consents:manage": "Record consent given or withdrawn",
    "privacy:erase": "Carry out an erasure request",
    "privacy:export": "Produce a subject-access export",
    "audit:read": "Read the audit log",
}

_EVERYTHING = frozenset(PERMISSIONS)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _EVERYTHING,
    "manager": _EVERYTHING - {"users:manage", "privacy:erase"},
    "sales": frozenset({"contacts:unmask", "followups:write", "consents:manage"}),
    "marketing": frozenset({"customers:all", "followups:write", "consents:manage"}),
    "success": frozenset({"contacts:unmask", "followups:write", "consents:manage"}),
    "support": frozenset({"customers:all", "contacts:unmask", "followups:write"}),
    "product": frozenset({"customers:all"}),
}

ROLE_LABELS: dict[str, dict[str, str]] = {
    "admin": {"en": "Administrator", "zh-CN": "管理员"},
    "manager": {"en": "Manager", "zh-CN": "经理"},
    "sales": {"en": "Sales", "zh-CN": "销售"},
    "marketing": {"en": "Marketing", "zh-CN": "市场"},
    "success": {"en": "Customer success", "zh-CN": "客户成功"},
    "support": {"en": "Support", "zh-CN": "客服"},
    "product": {"en": "Product", "zh-CN": "产品"},
}

PERMISSION_LABELS: dict[str, dict[str, str]] = {
    "customers:all": {"en": "All customers", "zh-CN": "查看全部客户"},
    "contacts:unmask": {"en": "Unmasked contacts", "zh-CN": "查看完整联系方式"},
    "tasks:all": {"en": "All tasks", "zh-CN": "管理全部任务"},
    "followups:write": {"en": "Record follow-ups", "zh-CN": "记录跟进"},
    "playbooks:edit": {"en": "Edit playbooks", "zh-CN": "编辑阶段策略"},
    "users:manage": {"en": "Manage users", "zh-CN": "管理用户"},
    "consents:manage": {"en": "Manage consent", "zh-CN": "管理授权同意"},
    "privacy:erase": {"en": "Erase personal data", "zh-CN": "删除个人信息"},
    "privacy:export": {"en": "Export personal data", "zh-CN": "导出个人信息"},
    "audit:read": {"en": "Read audit log", "zh-CN": "查看审计日志"},
}


@dataclass(frozen=True)
class Actor:
    """The one who acts: a user (``user_id``, ``role``) or an automated run (``run_id``)."""

    user_id: int | None = None
    login: str | None = None
    role: str | None = None
    run_id: str | None = None
    model_version: str | None = None

    @classmethod
    def automated(cls, run_id: str, *, model_version: str | None = None) -> Actor:
        """An engine run or scheduled job; it holds every permission it is given work for."""
        return cls(run_id=run_id, model_version=model_version)

    @classmethod
    def system(cls) -> Actor:
        """Set-up actions with no user yet (first start, migrations)."""
        return cls(run_id="system")

    @property
    def is_automated(self) -> bool:
        return self.user_id is None

    @property
    def permissions(self) -> frozenset[str]:
        if self.is_automated:
            return _EVERYTHING
        return ROLE_PERMISSIONS.get(self.role or "", frozenset())

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise ``PermissionDeniedError`` naming the permission when the actor lacks it."""
        if not self.can(permission):
            who = self.login or self.run_id or "this user"
            raise PermissionDeniedError(
                f"{who} (role {self.role}) lacks permission {permission!r}",
                permission=permission,
                role=self.role,
            )
