"""Who the demo customers are: names, industries, contacts, owners and channels.

The demo company sells to a mix of Chinese and international customers, people and firms, so
the names exercise the UTF-8 path and the masking of phone numbers (mainland mobile numbers,
``138xxxxxxxx``) and e-mail addresses. All e-mail domains are reserved ``example`` domains
(RFC 2606), so no generated address can reach a real mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SURNAMES = (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
            ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
            ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
            ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"))
GIVEN = (("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
         ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
         ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"),
         ("超", "chao"), ("秀英", "xiuying"), ("晓东", "xiaodong"), ("思远", "siyuan"),
         ("雨桐", "yutong"), ("子涵", "zihan"), ("浩然", "haoran"), ("欣怡", "xinyi"))
CITIES = ("杭州", "上海", "深圳", "北京", "成都", "苏州", "广州", "南京")
BRANDS = (("云帆", "yunfan"), ("星辰", "xingchen"), ("智汇", "zhihui"), ("恒通", "hengtong"),
          ("华信", "huaxin"), ("优品", "youpin"), ("长风", "changfeng"), ("博远", "boyuan"))
FIRST = ("James", "Mary", "John", "Emma", "Michael", "Olivia", "David", "Sophia", "Daniel",
         "Grace", "Lucas", "Chloe", "Ryan", "Hannah", "Kevin", "Alice")
LAST = ("Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis",
        "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker")
FIRMS = ("Northwind", "Bluepeak", "Silverline", "Redwood", "Brightpath", "Oakridge",
         "Harbor", "Summit")

INDUSTRIES = ("SaaS", "Retail", "E-commerce", "Education", "Finance", "Manufacturing",
              "Hospitality", "Healthcare")
# Chinese and English company-name endings per industry, in INDUSTRIES order
_ZH_SUFFIX = ("科技有限公司", "商贸有限公司", "电子商务有限公司", "教育科技有限公司",
              "投资咨询有限公司", "制造有限公司", "酒店管理有限公司", "医疗科技有限公司")
_EN_SUFFIX = ("Software", "Stores", "Online", "Academy", "Capital", "Industries", "Hotels",
              "Health")
OWNERS = ("王芳", "李强", "Emily Chen", "David Wang", "陈静", "Michael Brown")
_OWNER_WEIGHTS = (0.22, 0.20, 0.18, 0.16, 0.14, 0.10)
CHANNELS = ("organic_search", "paid_search", "social_media", "event", "partner", "direct")
REFERRAL_CHANNEL = "referral"
_CHANNEL_WEIGHTS = (0.28, 0.22, 0.18, 0.12, 0.10, 0.10)
MOBILE_PREFIXES = ("138", "139", "137", "135", "136", "150", "151", "158", "186", "188", "189")
EMAIL_DOMAINS = ("example.com", "example.cn", "example.net")


@dataclass
class People:
    """One entry per customer; ``None`` where a value is missing on purpose."""

    name: np.ndarray
    industry: np.ndarray
    phone: np.ndarray
    email: np.ndarray
    owner: np.ndarray
    channel: np.ndarray


def _pick(rng: np.random.Generator, values: tuple, n: int, p: tuple | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def draw_people(rng: np.random.Generator, n: int, *, number: np.ndarray) -> People:
    """Names, contacts and assignments for ``n`` customers; ``number`` makes e-mails unique."""
    kind = rng.choice(4, size=n, p=(0.45, 0.15, 0.30, 0.10))  # zh person/firm, en person/firm
    industry_i = rng.integers(0, len(INDUSTRIES), n)
    sur = rng.integers(0, len(SURNAMES), n)
    giv = rng.integers(0, len(GIVEN), n)
    brand = rng.integers(0, len(BRANDS), n)
    first = rng.integers(0, len(FIRST), n)
    last = rng.integers(0, len(LAST), n)
    firm = rng.integers(0, len(FIRMS), n)
    city = rng.integers(0, len(CITIES), n)
    num = np.asarray(number).astype(str).astype(object)
    domain = _pick(rng, EMAIL_DOMAINS, n)

    zh_sur = np.asarray([s for s, _ in SURNAMES], object)[sur]
    py_sur = np.asarray([p for _, p in SURNAMES], object)[sur]
    zh_giv = np.asarray([g for g, _ in GIVEN], object)[giv]
    py_giv = np.asarray([p for _, p in GIVEN], object)[giv]
    zh_brand = np.asarray([b for b, _ in BRANDS], object)[brand]
    py_brand = np.asarray([p for _, p in BRANDS], object)[brand]
    en_first = np.asarray(FIRST, object)[first]
    en_last = np.asarray(LAST, object)[last]
    en_firm = np.asarray(FIRMS, object)[firm]

    names = np.select(
        [kind == 0, kind == 1, kind == 2],
        [zh_sur + zh_giv,
         np.asarray(CITIES, object)[city] + zh_brand + np.asarray(_ZH_SUFFIX, object)[industry_i],
         en_first + " " + en_last],
        en_firm + " " + np.asarray(_EN_SUFFIX, object)[industry_i],
    )
    local = np.select(
        [kind == 0, kind == 1, kind == 2],
        [py_giv + "." + py_sur, "contact." + py_brand, en_first + "." + en_last],
        "info." + en_firm,
    )
    email = (np.char.lower(local.astype(str)).astype(object) + num + "@" + domain)
    digits = rng.integers(0, 100_000_000, n).astype(str)
    phone = _pick(rng, MOBILE_PREFIXES, n) + np.char.zfill(digits, 8).astype(object)
    phone[rng.random(n) < 0.03] = None
    email[rng.random(n) < 0.02] = None
    return People(
        name=names.astype(object),
        industry=np.asarray(INDUSTRIES, object)[industry_i],
        phone=phone,
        email=email,
        owner=_pick(rng, OWNERS, n, _OWNER_WEIGHTS),
        channel=_pick(rng, CHANNELS, n, _CHANNEL_WEIGHTS),
    )
