"""Hand-written DuckDB SQL of every catalog feature: the yardstick for ``compute_features``.

The benchmark runs this SQL and the Ibis expression in the same process on the same tables and
reports the ratio; ``tests/analytics/test_features_reference.py`` checks, column by column,
that both give the same answers on generated data, so the yardstick stays honest.

It is written the way one would write it by hand for DuckDB (``FILTER`` clauses, ``date_diff``,
``bit_count``), following the same definitions as ``clm.analytics.features`` but, where there
is a choice, by a different route, so the comparison also cross-checks the logic:

* the streak's trailing ones are ``bit_count(xor(v, v + 1)) - 1`` (Ibis side: ``log2`` of the
  lowest zero bit), and streaks longer than the mask continue through islands found with
  ``lag`` (Ibis side: ``month + row_number``);
* windows are written with ``TIMESTAMP`` literals computed here in Python;
* rounding is half up by the same formula as the features (``ROUND2`` / ``ROUND4`` below).
"""

from __future__ import annotations

import datetime as dt

MASK_MONTHS = 62


def _ts(day: dt.date) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def reference_features_sql(as_of: dt.date) -> str:
    """DuckDB SQL computing ``customer_id`` plus every feature of the catalog as of ``as_of``,
    over tables named ``customers``, ``orders``, ``events`` and ``interactions``."""
    day = dt.timedelta(days=1)
    d = f"DATE '{as_of.isoformat()}'"
    end = _ts(as_of + day)
    s30, s60, s90 = (_ts(as_of - (n - 1) * day) for n in (30, 60, 90))
    md = as_of.year * 12 + as_of.month - 1
    newest = md - MASK_MONTHS  # the month just before those the mask covers
    before_mask = _ts(dt.date((newest + 1) // 12, (newest + 1) % 12 + 1, 1))
    month = "(year(ordered_at) * 12 + month(ordered_at) - 1)"
    sql = f"""
WITH o AS (
    SELECT customer_id,
        count(*) FILTER (WHERE status = 'paid') AS order_count,
        sum(amount) FILTER (WHERE status = 'paid') AS spend_total,
        count(*) FILTER (WHERE status = 'paid' AND ordered_at >= {s30}) AS orders_30d,
        count(*) FILTER (WHERE status = 'paid' AND ordered_at >= {s60}
                         AND ordered_at < {s30}) AS orders_prev_30d,
        count(*) FILTER (WHERE status = 'paid' AND ordered_at >= {s90}) AS orders_90d,
        sum(amount) FILTER (WHERE status = 'paid' AND ordered_at >= {s30}) AS spend_30d,
        sum(amount) FILTER (WHERE status = 'paid' AND ordered_at >= {s90}) AS spend_90d,
        count(*) FILTER (WHERE status = 'refunded' AND ordered_at >= {s90}) AS refunds_90d,
        min(ordered_at) FILTER (WHERE status = 'paid') AS first_paid_at,
        max(ordered_at) FILTER (WHERE status = 'paid') AS last_paid_at,
        min(ordered_at) AS first_order_at,
        bit_or(1::BIGINT << least({md} - {month}, {MASK_MONTHS}))
            FILTER (WHERE status = 'paid' AND {md} - {month} < {MASK_MONTHS}) AS month_mask
    FROM orders
    WHERE ordered_at < {end}
    GROUP BY customer_id
),
first_amount AS (
    SELECT p.customer_id, avg(p.amount) AS first_order_amount
    FROM orders p JOIN o ON p.customer_id = o.customer_id AND p.ordered_at = o.first_paid_at
    WHERE p.status = 'paid'
    GROUP BY p.customer_id
),
mask AS (
    SELECT customer_id, off, bit_count(xor(v, v + 1)) - 1 AS run
    FROM (
        SELECT customer_id, off, coalesce(month_mask, 0) >> off AS v
        FROM (SELECT customer_id, month_mask,
                     CASE WHEN coalesce(month_mask, 0) & 1 = 0 THEN 1 ELSE 0 END AS off
              FROM o)
    )
),
long_months AS (
    SELECT DISTINCT customer_id, {month} AS m
    FROM orders
    WHERE status = 'paid' AND ordered_at < {before_mask}
      AND customer_id IN (SELECT customer_id FROM mask WHERE run + off >= {MASK_MONTHS})
),
long_streak AS (
    SELECT customer_id,
           CASE WHEN max(m) = {newest}
                THEN max(m) - max(m) FILTER (WHERE prev IS NULL OR prev <> m - 1) + 1
                ELSE 0 END AS streak_older
    FROM (SELECT customer_id, m, lag(m) OVER (PARTITION BY customer_id ORDER BY m) AS prev
          FROM long_months)
    GROUP BY customer_id
),
e AS (
    SELECT customer_id,
        count(*) FILTER (WHERE event_type = 'page_view' AND occurred_at >= {s90})
            AS page_views_90d,
        count(*) FILTER (WHERE event_type = 'lead_form') AS lead_forms_total,
        count(*) FILTER (WHERE event_type = 'marketing_event' AND occurred_at >= {s90})
            AS marketing_events_90d,
        min(occurred_at) FILTER (WHERE event_type = 'onboarding_completed') AS onboarded_at,
        count(DISTINCT occurred_at::DATE) FILTER (WHERE occurred_at >= {s30}) AS active_days_30d,
        count(*) FILTER (WHERE event_type = 'login' AND occurred_at >= {s30}) AS logins_30d,
        count(DISTINCT feature) FILTER (WHERE event_type = 'feature_used'
                                        AND occurred_at >= {s30}) AS distinct_features_30d,
        count(*) FILTER (WHERE event_type = 'feature_used' AND occurred_at >= {s30})
            AS feature_uses_30d,
        count(*) FILTER (WHERE event_type IN ('login', 'feature_used')
                         AND occurred_at >= {s60} AND occurred_at < {s30}) AS usage_prev_30d,
        count(*) FILTER (WHERE event_type = 'content_interaction' AND occurred_at >= {s90})
            AS content_interactions_90d,
        min(occurred_at) AS first_event_at
    FROM events
    WHERE occurred_at < {end}
    GROUP BY customer_id
),
i AS (
    SELECT customer_id,
        count(*) FILTER (WHERE interaction_type = 'support_contact' AND occurred_at >= {s30})
            AS support_contacts_30d,
        count(*) FILTER (WHERE interaction_type = 'support_contact' AND occurred_at >= {s60}
                         AND occurred_at < {s30}) AS support_contacts_prev_30d,
        count(*) FILTER (WHERE interaction_type = 'complaint' AND occurred_at >= {s90})
            AS complaints_90d,
        count(*) FILTER (WHERE interaction_type = 'referral') AS referrals_total,
        count(*) FILTER (WHERE interaction_type = 'referral' AND occurred_at >= {s90})
            AS referrals_90d,
        max(occurred_at) FILTER (WHERE interaction_type = 'satisfaction'
                                 AND score IS NOT NULL) AS satisfaction_at,
        max(occurred_at) FILTER (WHERE interaction_type = 'nps' AND score IS NOT NULL) AS nps_at,
        min(occurred_at) AS first_interaction_at
    FROM interactions
    WHERE occurred_at < {end}
    GROUP BY customer_id
),
scores AS (
    SELECT s.customer_id,
        avg(s.score) FILTER (WHERE s.interaction_type = 'satisfaction'
                             AND s.occurred_at = i.satisfaction_at) AS satisfaction_latest,
        avg(s.score) FILTER (WHERE s.interaction_type = 'nps' AND s.occurred_at = i.nps_at)
            AS nps_latest
    FROM interactions s JOIN i ON s.customer_id = i.customer_id
    WHERE s.score IS NOT NULL AND s.occurred_at < {end}
    GROUP BY s.customer_id
),
f AS (
    SELECT c.customer_id,
        coalesce(o.order_count, 0) AS order_count,
        ROUND2(coalesce(o.spend_total, 0)) AS total_spend,
        ROUND2(o.spend_total / o.order_count) AS avg_order_value,
        ROUND2(fa.first_order_amount) AS first_order_amount,
        CASE WHEN fa.first_order_amount > 0
             THEN ROUND4(o.spend_total / o.order_count / fa.first_order_amount - 1)
        END AS aov_change_vs_first,
        date_diff('day', o.first_paid_at::DATE, {d}) AS days_since_first_order,
        date_diff('day', o.last_paid_at::DATE, {d}) AS days_since_last_order,
        coalesce(o.orders_30d, 0) AS orders_30d,
        coalesce(o.orders_prev_30d, 0) AS orders_prev_30d,
        coalesce(o.orders_90d, 0) AS orders_90d,
        ROUND2(coalesce(o.spend_30d, 0)) AS spend_30d,
        ROUND2(coalesce(o.spend_90d, 0)) AS spend_90d,
        coalesce(o.orders_30d, 0)
            - CASE WHEN o.first_paid_at >= {s30} THEN 1 ELSE 0 END AS repurchases_30d,
        ROUND2(coalesce(o.spend_90d, 0) / 3) AS arpu_monthly,
        coalesce(m.run, 0) + coalesce(ls.streak_older, 0) AS active_months_streak,
        coalesce(o.refunds_90d, 0) AS refunds_90d,
        coalesce(e.page_views_90d, 0) AS page_views_90d,
        coalesce(e.lead_forms_total, 0) AS lead_forms_total,
        coalesce(e.marketing_events_90d, 0) AS marketing_events_90d,
        e.onboarded_at IS NOT NULL AS onboarding_completed,
        date_diff('day', e.onboarded_at::DATE, {d}) AS days_since_onboarding,
        coalesce(e.active_days_30d, 0) AS active_days_30d,
        coalesce(e.logins_30d, 0) AS logins_30d,
        coalesce(e.distinct_features_30d, 0) AS distinct_features_30d,
        coalesce(e.feature_uses_30d, 0) AS feature_uses_30d,
        coalesce(e.logins_30d, 0) + coalesce(e.feature_uses_30d, 0) AS usage_30d,
        coalesce(e.usage_prev_30d, 0) AS usage_prev_30d,
        CASE WHEN e.usage_prev_30d > 0
             THEN ROUND4((e.logins_30d + e.feature_uses_30d) / e.usage_prev_30d - 1)
        END AS usage_change_pct,
        coalesce(e.content_interactions_90d, 0) AS content_interactions_90d,
        coalesce(i.support_contacts_30d, 0) AS support_contacts_30d,
        coalesce(i.support_contacts_prev_30d, 0) AS support_contacts_prev_30d,
        CASE WHEN i.support_contacts_prev_30d > 0
             THEN ROUND4(i.support_contacts_30d / i.support_contacts_prev_30d - 1)
        END AS support_contacts_change_pct,
        coalesce(i.complaints_90d, 0) AS complaints_90d,
        ROUND2(sc.satisfaction_latest) AS satisfaction_latest,
        ROUND2(sc.nps_latest) AS nps_latest,
        coalesce(i.referrals_total, 0) AS referrals_total,
        coalesce(i.referrals_90d, 0) AS referrals_90d,
        coalesce(c.unsubscribed_on <= {d}, false) AS unsubscribed,
        coalesce(c.account_closed_on <= {d}, false) AS account_closed,
        date_diff('day', least(CASE WHEN c.signup_date <= {d} THEN c.signup_date END,
                               o.first_order_at::DATE, e.first_event_at::DATE,
                               i.first_interaction_at::DATE), {d}) AS tenure_days
    FROM customers c
    LEFT JOIN o ON o.customer_id = c.customer_id
    LEFT JOIN first_amount fa ON fa.customer_id = c.customer_id
    LEFT JOIN mask m ON m.customer_id = c.customer_id
    LEFT JOIN long_streak ls ON ls.customer_id = c.customer_id
    LEFT JOIN e ON e.customer_id = c.customer_id
    LEFT JOIN i ON i.customer_id = c.customer_id
    LEFT JOIN scores sc ON sc.customer_id = c.customer_id
)
SELECT customer_id, order_count, total_spend, avg_order_value, first_order_amount,
    aov_change_vs_first, days_since_first_order, days_since_last_order, orders_30d,
    orders_prev_30d, orders_90d, spend_30d, spend_90d, repurchases_30d, arpu_monthly,
    CASE WHEN order_count > 0
         THEN ROUND4(percent_rank() OVER (PARTITION BY order_count > 0 ORDER BY arpu_monthly))
    END AS arpu_percentile,
    active_months_streak, refunds_90d, page_views_90d, lead_forms_total, marketing_events_90d,
    onboarding_completed, days_since_onboarding, active_days_30d, logins_30d,
    distinct_features_30d, feature_uses_30d, usage_30d, usage_prev_30d, usage_change_pct,
    content_interactions_90d, support_contacts_30d, support_contacts_prev_30d,
    support_contacts_change_pct, complaints_90d, satisfaction_latest, nps_latest,
    referrals_total, referrals_90d, unsubscribed, account_closed, tenure_days
FROM f
"""
    return _half_up(sql)


def _half_up(sql: str) -> str:
    """Expand ``ROUND2(x)`` / ``ROUND4(x)`` into the half-up rounding the features use
    (``floor(x * 10^d + 0.5 + 1e-7) / 10^d``; see ``clm.analytics.features.compute._round``):
    DuckDB's ``round`` would disagree with it on values stored just below half a cent."""
    for digits in (2, 4):
        token = f"ROUND{digits}("
        while token in sql:
            start = sql.index(token)
            depth, i = 1, start + len(token)
            while depth:
                depth += {"(": 1, ")": -1}.get(sql[i], 0)
                i += 1
            inner = sql[start + len(token):i - 1]
            scale = 10**digits
            sql = f"{sql[:start]}(floor(({inner}) * {scale} + 0.5000001) / {scale}){sql[i:]}"
    return sql
