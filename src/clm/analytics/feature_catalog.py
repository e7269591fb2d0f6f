"""The names, units and windows of every per-customer feature.

This catalog is the contract between the feature computation (``features.py``), the stage
rules (which may only name features listed here; a typo gets the closest name), the tracking
record, and ``docs/features.md`` (a test checks every feature is documented there).

Features come from two places, told apart by ``FeatureSpec.source``:

* ``"base"`` (``FEATURES``): aggregates of the raw tables, computed by
  ``clm.analytics.features.compute_features`` on every run; cheap.
* ``"value"`` (``VALUE_FEATURES``): the customer-value measures of ``clm.analytics.value``
  (RFM scores and segment, ABC tier) and of the fitted CLV models (clv, p_alive,
  expected_purchases). They need a ranking over all buyers or a model fit, so a caller computes
  them only when a stage model names them (``clm.analytics.rules.referenced_features``) and
  joins them to the base features on ``customer_id``.

``CATALOG`` is both groups, base first; ``BY_NAME`` and ``FEATURE_NAMES`` cover the catalog.

Windows are relative to the as-of date D and include D: "30d" means occurred on a date in
(D-30, D]; "prev 30d" means (D-60, D-30]. Only paid orders count as orders. Data dated after
D never contributes (point in time). Without activity a customer gets 0 for counts and sums,
empty (null) for "days since", ratios, scores and percentiles, false for flags. Ratios are
rounded to 4 decimals, currency and scores to 2 (halves up, identically on every engine).
"""

from __future__ import annotations

from dataclasses import dataclass

BASE, VALUE = "base", "value"


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    dtype: str  # int | float | bool | str
    unit: str
    window: str
    en: str
    zh: str
    source: str = BASE  # base (compute_features) | value (clm.analytics.value / CLV models)


def _f(name: str, dtype: str, unit: str, window: str, en: str, zh: str) -> FeatureSpec:
    return FeatureSpec(name, dtype, unit, window, en, zh)


def _v(name: str, dtype: str, unit: str, window: str, en: str, zh: str) -> FeatureSpec:
    return FeatureSpec(name, dtype, unit, window, en, zh, source=VALUE)


FEATURES: tuple[FeatureSpec, ...] = (
    # transactions
    _f("order_count", "int", "orders", "all time", "Paid orders", "已支付订单数"),
    _f("total_spend", "float", "currency", "all time", "Total paid amount", "累计消费金额"),
    _f("avg_order_value", "float", "currency", "all time",
       "Average paid order value", "平均客单价"),
    _f("first_order_amount", "float", "currency", "all time",
       "Amount of the first paid order (the mean when several share the earliest timestamp)",
       "首单金额（同一最早时间有多笔时取平均）"),
    _f("aov_change_vs_first", "float", "ratio", "all time",
       "Average order value relative to the first order, minus 1 (0.2 = 20% above)",
       "平均客单价相对首单的变化（0.2 即高 20%）"),
    _f("days_since_first_order", "int", "days", "all time",
       "Days since the first paid order", "距首单天数"),
    _f("days_since_last_order", "int", "days", "all time",
       "Days since the last paid order", "距最近一单天数"),
    _f("orders_30d", "int", "orders", "30d", "Paid orders in the last 30 days", "近30天订单数"),
    _f("orders_prev_30d", "int", "orders", "prev 30d",
       "Paid orders in the 30 days before that", "前30天订单数"),
    _f("orders_90d", "int", "orders", "90d", "Paid orders in the last 90 days", "近90天订单数"),
    _f("spend_30d", "float", "currency", "30d", "Paid amount in the last 30 days", "近30天消费"),
    _f("spend_90d", "float", "currency", "90d", "Paid amount in the last 90 days", "近90天消费"),
    _f("repurchases_30d", "int", "orders", "30d",
       "Paid orders in the last 30 days that are not the customer's first order",
       "近30天复购次数（不含首单）"),
    _f("arpu_monthly", "float", "currency/month", "90d",
       "Average revenue per month over the last 90 days (spend_90d / 3)", "近90天月均收入（ARPU）"),
    _f("arpu_percentile", "float", "0-1", "90d",
       "Percentile rank (percent_rank) of arpu_monthly among customers with a paid order "
       "(0 = lowest, 1 = highest, ties share a value); empty without a paid order",
       "ARPU 在有订单客户中的百分位（0 最低，1 最高，并列取相同值）；无订单为空"),
    _f("active_months_streak", "int", "months", "calendar months",
       "Consecutive calendar months with a paid order, ending in D's month or the month before",
       "截至本月或上月连续有订单的自然月数"),
    _f("refunds_90d", "int", "orders", "90d",
       "Refunded orders placed in the last 90 days (dated by order time)", "近90天退款订单数"),
    # behaviour
    _f("page_views_90d", "int", "events", "90d",
       "Page views in the last 90 days", "近90天页面访问次数"),
    _f("lead_forms_total", "int", "events", "all time", "Lead forms filled", "填写线索表单次数"),
    _f("marketing_events_90d", "int", "events", "90d",
       "Marketing events joined in the last 90 days", "近90天参加营销活动次数"),
    _f("onboarding_completed", "bool", "flag", "all time",
       "Completed onboarding", "已完成新手引导"),
    _f("days_since_onboarding", "int", "days", "all time",
       "Days since onboarding was first completed", "距首次完成新手引导天数"),
    _f("active_days_30d", "int", "days", "30d",
       "Distinct days with any event in the last 30 days", "近30天活跃天数"),
    _f("logins_30d", "int", "events", "30d", "Logins in the last 30 days", "近30天登录次数"),
    _f("distinct_features_30d", "int", "features", "30d",
       "Distinct product features used in the last 30 days", "近30天使用的不同功能数"),
    _f("feature_uses_30d", "int", "events", "30d",
       "Feature-use events in the last 30 days", "近30天功能使用次数"),
    _f("usage_30d", "int", "events", "30d",
       "Logins plus feature uses in the last 30 days", "近30天使用量（登录+功能使用）"),
    _f("usage_prev_30d", "int", "events", "prev 30d",
       "Logins plus feature uses in the 30 days before", "前30天使用量"),
    _f("usage_change_pct", "float", "ratio", "30d vs prev 30d",
       "usage_30d / usage_prev_30d - 1 (-0.5 = down 50%); empty when usage_prev_30d is 0",
       "使用量环比变化（-0.5 即下降 50%）；前30天为0时为空"),
    _f("content_interactions_90d", "int", "events", "90d",
       "Likes, comments and shares in the last 90 days", "近90天内容互动次数"),
    # interactions
    _f("support_contacts_30d", "int", "contacts", "30d",
       "Support contacts in the last 30 days", "近30天客服接触次数"),
    _f("support_contacts_prev_30d", "int", "contacts", "prev 30d",
       "Support contacts in the 30 days before", "前30天客服接触次数"),
    _f("support_contacts_change_pct", "float", "ratio", "30d vs prev 30d",
       "support_contacts_30d / support_contacts_prev_30d - 1; empty when the previous count is 0",
       "客服接触环比变化；前30天为0时为空"),
    _f("complaints_90d", "int", "contacts", "90d",
       "Complaints in the last 90 days", "近90天投诉次数"),
    _f("satisfaction_latest", "float", "score 0-10", "all time",
       "Latest satisfaction score (the mean if several share the latest timestamp)",
       "最近一次满意度（同一时间多条取平均）"),
    _f("nps_latest", "float", "score 0-10", "all time",
       "Latest NPS answer (the mean if several share the latest timestamp)",
       "最近一次 NPS 评分（同一时间多条取平均）"),
    _f("referrals_total", "int", "customers", "all time",
       "Customers referred (referral records)", "累计推荐客户数（推荐记录数）"),
    _f("referrals_90d", "int", "customers", "90d",
       "Customers referred in the last 90 days (referral records)", "近90天推荐客户数"),
    # marketing / account
    _f("unsubscribed", "bool", "flag", "all time",
       "Unsubscribed from email on or before D", "已退订邮件"),
    _f("account_closed", "bool", "flag", "all time", "Account closed on or before D", "已注销账户"),
    _f("tenure_days", "int", "days", "all time",
       "Days since the customer's first known activity (signup, order, event or interaction)",
       "距客户首次出现的天数"),
)

"""The base features: exactly the columns ``compute_features`` returns, in this order."""

VALUE_FEATURES: tuple[FeatureSpec, ...] = (
    # RFM and ABC tier (clm.analytics.value.value_features); empty without a paid order
    _v("r_score", "int", "score 1-5", "all time",
       "RFM recency score (5 = ordered most recently among buyers)",
       "RFM 最近消费得分（5 为最近）"),
    _v("f_score", "int", "score 1-5", "all time",
       "RFM frequency score (5 = most paid orders among buyers)",
       "RFM 消费频次得分（5 为最多）"),
    _v("m_score", "int", "score 1-5", "all time",
       "RFM monetary score (5 = highest total spend among buyers)", "RFM 消费金额得分（5 为最高）"),
    _v("rfm_segment", "str", "segment id", "all time",
       "RFM segment (champions, loyal, potential_loyalist, new, at_risk, cant_lose, "
       "hibernating, lost)", "RFM 分群（如 champions、at_risk、lost）"),
    _v("value_tier", "str", "tier A/B/C", "all time",
       "ABC value tier by cumulative share of total spend (A = top 80% of spend)",
       "ABC 价值分层（A 为贡献前 80% 消费的客户）"),
    _v("spend_share_cumulative", "float", "0-1", "all time",
       "Share of all spend held by this customer and those ranked above", "累计消费占比"),
    # fitted CLV models (clm.services.customer_values.model_values); empty when not fitted
    _v("clv", "float", "currency", "next 52 weeks",
       "Customer lifetime value: discounted expected spend over the next year (BG/NBD + "
       "Gamma-Gamma)", "客户终身价值（未来一年折现预期消费，BG/NBD + Gamma-Gamma）"),
    _v("p_alive", "float", "0-1", "all time",
       "Probability the customer is still active (BG/NBD)", "客户仍活跃的概率（BG/NBD）"),
    _v("expected_purchases", "float", "orders", "next 90 days",
       "Expected paid orders in the next 90 days (BG/NBD)", "未来 90 天预期订单数（BG/NBD）"),
)
"""Per-customer values a stage rule may use; computed by the caller only when referenced."""

CATALOG: tuple[FeatureSpec, ...] = FEATURES + VALUE_FEATURES
FEATURE_NAMES: frozenset[str] = frozenset(f.name for f in CATALOG)
VALUE_FEATURE_NAMES: frozenset[str] = frozenset(f.name for f in VALUE_FEATURES)
BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in CATALOG}
