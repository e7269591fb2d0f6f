"""Built-in synonyms: the headers and vocabulary values real exports use for contract names.

A Chinese CRM or order-system export names its columns 客户ID, 下单时间, 金额 and writes its
statuses as 已支付 or 已退款. These tables let such a file import without any configuration;
a ``clm.toml`` mapping (``[ingest.columns.<table>]``) is consulted first and overrides them.

Matching is done on :func:`normalize_label`, so ``Customer ID``, ``customer_id``,
``CUSTOMER-ID`` and a full-width ``客户ＩＤ`` are one header. Only unambiguous synonyms live
here: a header that could mean two contract columns (``日期``, ``时间``) is left for the
config mapping, because guessing wrong would silently load the wrong field.
"""

from __future__ import annotations

import re
import unicodedata

_IGNORED = re.compile(r"[\s_\-./:：（）()\[\]【】]+")


def normalize_label(text: str) -> str:
    """Fold a header or a vocabulary value for matching.

    NFKC turns full-width forms into ASCII (``ＩＤ`` -> ``ID``), ``casefold`` removes case, and
    whitespace, ``_``, ``-``, ``.``, ``/``, colons and brackets are dropped, so every spelling
    of ``customer_id`` in the wild folds to ``customerid``.
    """
    folded = unicodedata.normalize("NFKC", text).replace("\ufeff", "").casefold()
    return _IGNORED.sub("", folded)


# table -> contract column -> synonyms (the contract name itself always matches too).
HEADER_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer_id": ("客户ID", "客户编号", "客户号", "客户代码", "会员ID", "会员编号", "用户ID",
                        "customer no", "customer number", "client id", "cust id"),
        "name": ("姓名", "客户名称", "客户名", "客户姓名", "名称", "昵称", "公司名称",
                 "customer name", "full name", "nickname"),
        "industry": ("行业", "所属行业", "sector"),
        "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "电话号码", "mobile",
                  "phone number", "telephone", "tel"),
        "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "e-mail", "mail", "email address"),
        "owner": ("负责人", "客户经理", "销售负责人", "归属人", "account owner", "sales rep",
                  "account manager"),
        "acquisition_channel": ("获客渠道", "来源渠道", "渠道", "客户来源", "来源", "channel",
                                "source", "lead source"),
        "signup_date": ("注册日期", "注册时间", "创建日期", "创建时间", "签约日期", "signup",
                        "sign up date", "registration date", "registered at", "created at"),
        "unsubscribed_on": ("退订日期", "退订时间", "unsubscribe date", "unsubscribed at",
                            "unsubscribed"),
        "account_closed_on": ("销户日期", "销户时间", "注销日期", "注销时间", "account closed",
                              "closed at", "closed on", "closure date"),
    },
    "orders": {
        "order_id": ("订单号", "订单编号", "订单ID", "单号", "order", "order no", "order number"),
        "customer_id": ("客户ID", "客户编号", "客户号", "会员ID", "会员编号", "用户ID",
                        "customer", "customer no", "client id", "cust id"),
        "ordered_at": ("下单时间", "下单日期", "订单时间", "订单日期", "成交时间", "成交日期",
                       "购买时间", "购买日期", "日期", "时间", "order date", "order time",
                       "ordered", "purchase date", "created at", "date"),
        "amount": ("金额", "订单金额", "实付金额", "成交金额", "支付金额", "总金额", "amount paid",
                   "order amount", "total", "value", "revenue"),
        "status": ("状态", "订单状态", "支付状态", "order status"),
    },
    "events": {
        "customer_id": ("客户ID", "客户编号", "客户号", "会员ID", "会员编号", "用户ID",
                        "customer", "customer no", "client id", "user id"),
        "occurred_at": ("发生时间", "发生日期", "事件时间", "时间戳", "日期", "时间", "event time",
                        "timestamp", "occurred", "event date", "date", "time"),
        "event_type": ("事件类型", "事件", "行为类型", "行为", "event", "type", "event name"),
        "feature": ("功能", "功能名称", "功能点", "feature name"),
    },
    "interactions": {
        "customer_id": ("客户ID", "客户编号", "客户号", "会员ID", "会员编号", "用户ID",
                        "customer", "customer no", "client id"),
        "occurred_at": ("发生时间", "发生日期", "互动时间", "时间戳", "日期", "时间",
                        "interaction time", "timestamp", "occurred", "date", "time"),
        "interaction_type": ("互动类型", "互动方式", "类型", "interaction", "type"),
        "score": ("评分", "分数", "满意度评分", "得分", "rating"),
        "referred_customer_id": ("被推荐客户ID", "被推荐客户编号", "被推荐人", "推荐客户ID",
                                 "referred customer", "referred id", "referee id"),
    },
}


# contract column -> canonical value -> synonyms (matched after normalize_label).
VALUE_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "paid": ("已支付", "已付款", "支付成功", "付款成功", "已完成", "完成", "已成交", "成交",
                 "正常", "有效", "payed", "complete", "completed", "success", "succeeded"),
        "refunded": ("退款", "已退款", "退款成功", "全额退款", "已退货", "退货", "refund",
                     "returned"),
        "cancelled": ("取消", "已取消", "订单取消", "关闭", "已关闭", "作废", "已作废",
                      "canceled", "cancel", "void", "voided"),
    },
    "event_type": {
        "page_view": ("页面浏览", "浏览", "浏览页面", "访问", "页面访问", "pageview", "visit",
                      "view"),
        "lead_form": ("留资", "表单", "线索表单", "填写表单", "提交表单", "lead", "form",
                      "form submit"),
        "marketing_event": ("营销活动", "参加活动", "市场活动", "活动", "webinar", "event"),
        "onboarding_completed": ("完成引导", "完成新手引导", "新手引导完成", "引导完成",
                                 "onboarded", "onboarding"),
        "login": ("登录", "登陆", "sign in", "log in"),
        "feature_used": ("功能使用", "使用功能", "feature use", "feature usage"),
        "content_interaction": ("内容互动", "点赞", "评论", "分享", "收藏", "like", "comment",
                                "share"),
    },
    "interaction_type": {
        "support_contact": ("客服咨询", "咨询", "客服", "工单", "客服工单", "支持", "support",
                            "ticket", "support ticket"),
        "complaint": ("投诉", "客户投诉"),
        "satisfaction": ("满意度", "满意度评分", "满意度调查", "csat"),
        "nps": ("净推荐值", "nps调查", "推荐意愿"),
        "referral": ("推荐", "转介绍", "介绍客户", "推荐客户", "refer", "referred"),
    },
}


def value_lookup(column: str) -> dict[str, str]:
    """Folded spelling -> canonical value for one closed-vocabulary column.

    The canonical values themselves are included, so ``Paid``, ``PAID`` and ``page view`` map
    onto ``paid`` and ``page_view``.
    """
    table = VALUE_SYNONYMS.get(column, {})
    out: dict[str, str] = {}
    for canonical, spellings in table.items():
        out[normalize_label(canonical)] = canonical
        for spelling in spellings:
            out[normalize_label(spelling)] = canonical
    return out
