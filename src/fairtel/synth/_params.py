"""The demo operator's numbers, names and rates: what a synthetic subscriber base looks like.

Ids (plans, offers, merchants, zones) are the ones of the default catalog; rates are per subscriber-day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DEFAULT_START = date(2026, 9, 1)  # fixed, so that the same arguments always give the same files
TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"

PLANS: tuple[str, ...] = ("basic-39", "unlimited-129", "payg", "senior-19")
PLAN_SHARE = np.array([0.40, 0.25, 0.20, 0.15])
# Usage multipliers per plan (rows follow PLANS): voice, sms, data sessions, data volume.
PLAN_MOD = np.array(
    [
        [1.0, 1.0, 1.0, 1.0],
        [1.25, 0.9, 1.5, 1.8],
        [0.6, 0.8, 0.5, 0.6],
        [0.8, 0.5, 0.3, 0.4],
    ]
)

# The default catalog's monthly fees (yuan) and what a month's bill usually adds beyond the fee (out-of-plan calls,
# data, value-added services), before the subscriber's own activity factor; rows follow PLANS.
PLAN_FEE_YUAN: dict[str, float] = {"basic-39": 39.0, "unlimited-129": 129.0, "payg": 0.0, "senior-19": 19.0}
PLAN_EXTRA_YUAN: tuple[float, ...] = (12.0, 8.0, 35.0, 4.0)

# Loyalty points (_loyalty.py): earned from each month's bill, spent now and then.
POINTS_PER_YUAN = 1  # 每消费 1 元积 1 分
LOYALTY_MONTHS = 12  # points expire after a year: the bills of the last 12 whole months count
REDEEM_SHARE = 0.25  # of subscribers with points: spent some once
REDEEM_POINTS: tuple[int, ...] = (100, 200, 300, 500)  # the vouchers on offer, ascending

REGIONS: tuple[str, ...] = ("shanghai", "beijing", "guangdong", "zhejiang", "jiangsu", "sichuan", "hubei", "fujian")
REGION_SHARE = np.array([0.22, 0.16, 0.18, 0.12, 0.11, 0.09, 0.07, 0.05])
MOBILE_PREFIXES = np.array(
    [130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 157, 158, 159, 166, 176, 177, 180,
     181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199],
    dtype=np.int64,
)
LANDLINE_AREAS = np.array([10, 20, 21, 22, 23, 24, 25, 27, 28, 29], dtype=np.int64)
# Type allocation codes of common handsets: the first 8 digits of an IMEI.
TACS = np.array([35332011, 35391110, 86891203, 86769104, 35925406, 86428903, 35693803, 86054503], dtype=np.int64)

# Base rates per subscriber-day before the subscriber's own activity factor.
RATE_VOICE = 6.0
RATE_SMS = 3.0
RATE_DATA = 14.0
P_OUT_VOICE = 0.55
P_OUT_SMS = 0.55
P_UNANSWERED = 0.12

# Weekly shape, Monday first: voice and SMS dip at weekends, data rises.
WEEKLY = {
    "voice": np.array([1.05, 1.05, 1.05, 1.05, 1.0, 0.8, 0.75]),
    "sms": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9]),
    "data": np.array([0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.15]),
}
# Diurnal shape, local hour 0..23 (relative weights).
DIURNAL = {
    "voice": np.array([0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 1.2, 3.5, 6.5, 8.5, 9.5, 9.0, 7.0, 7.5, 8.5, 8.8, 8.5, 8.0,
                       7.0, 7.0, 7.5, 6.0, 3.5, 1.5]),
    "sms": np.array([0.8, 0.4, 0.2, 0.15, 0.15, 0.3, 1.0, 3.0, 5.5, 6.5, 7.0, 7.0, 6.5, 6.5, 6.5, 6.5, 6.5, 6.5,
                     6.5, 7.0, 7.5, 7.0, 5.0, 2.5]),
    "data": np.array([2.5, 1.5, 0.9, 0.6, 0.5, 0.7, 1.5, 3.5, 5.0, 5.0, 5.0, 5.5, 6.5, 6.0, 5.5, 5.5, 5.5, 6.0,
                      6.5, 7.5, 8.5, 9.0, 8.0, 5.0]),
}

# International destinations by zone (country calling codes). Premium ranges are kept out of ordinary traffic.
INTL_1 = np.array([852, 853, 886], dtype=np.int64)
INTL_2 = np.array([1, 44, 49, 33, 81, 82, 65, 61], dtype=np.int64)
INTL_3 = np.array([7, 20, 27, 34, 39, 55, 60, 62, 63, 66, 84, 91, 92, 971, 234, 254], dtype=np.int64)
INTL_ALL = np.concatenate([INTL_1, INTL_2, INTL_3])
INTL_WEIGHTS = np.concatenate([np.full(3, 6.0), np.full(8, 3.0), np.full(16, 1.0)])
PREMIUM_PREFIXES = np.array([882, 883, 881, 979, 2393, 2392, 2313, 3712, 5392, 6753], dtype=np.int64)
# Wangiri callers use ranges that ring back to premium numbers; IRSF uses all premium ranges.
WANGIRI_PREFIXES = np.array([2392, 2393, 2313, 3712, 5392, 6753], dtype=np.int64)

# Roaming destinations (ISO 3166-1 alpha-2) and how often travellers go there.
ROAM_COUNTRIES: tuple[str, ...] = ("HK", "MO", "TW", "JP", "KR", "SG", "TH", "MY", "US", "GB", "DE", "FR", "IT",
                                   "AE", "BR")
ROAM_SHARE = np.array([0.25, 0.08, 0.07, 0.15, 0.10, 0.07, 0.08, 0.04, 0.06, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01])


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    merchant: str
    amount: str  # decimal string in CNY
    monthly: bool  # False: charged per use
    name_zh: str
    name_en: str


OFFERS: tuple[Offer, ...] = (
    Offer("vas-music-10", "sp-melody", "10.00", True, "音乐包", "music pack"),
    Offer("vas-video-15", "sp-streamly", "15.00", True, "视频会员", "video membership"),
    Offer("vas-news-5", "sp-dailynews", "5.00", True, "新闻早晚报", "daily news"),
    Offer("vas-game-30", "sp-playzone", "30.00", True, "游戏特权", "game pass"),
    Offer("vas-horoscope-6", "sp-luckystar", "6.00", True, "星座运势", "horoscope"),
    Offer("vas-wallpaper-3", "sp-pixelart", "3.00", True, "精美壁纸", "wallpapers"),
    Offer("vas-ringtone-2", "sp-melody", "2.00", False, "彩铃下载", "ringtone download"),
    Offer("vas-cloud-8", "sp-cloudbox", "8.00", True, "云存储", "cloud storage"),
)
FEE_STEALERS: tuple[str, ...] = ("sp-luckystar", "sp-pixelart")
# How ordinary subscribers pick offers (index into OFFERS); the fee-stealing merchants' offers get few.
OFFER_WEIGHTS = np.array([0.24, 0.19, 0.15, 0.09, 0.01, 0.01, 0.15, 0.16])

CONSENT_CHANNELS: tuple[str, ...] = ("sms", "app", "web", "store", "ivr")
CONSENT_CHANNEL_SHARE = np.array([0.35, 0.35, 0.15, 0.10, 0.05])

# Feeds: which network element writes which file format.
SOURCE_VOICE = "msc-01"  # canonical Parquet
SOURCE_DATA = "pgw-01"  # canonical Parquet (the first chunk's: see data_sources)
SOURCE_CSV = "msc-02"  # canonical CSV (voice, SMS)
SOURCE_JSONL = "pgw-02"  # canonical JSON Lines (data; the first chunk's: see data_sources)
SOURCE_ASTERISK = "pbx-ast-01"  # Asterisk Master.csv (outgoing voice), also in its accountcode column
SOURCE_FREESWITCH = "pbx-fs-01"  # FreeSWITCH mod_cdr_csv (outgoing voice), also in its accountcode column
SOURCE_VAS = "spgw-01"  # content providers' charge claims, canonical JSON Lines
SOURCE_LEGACY = "msc-03"  # a legacy switch that writes GBK



def data_sources(chunk: int) -> tuple[str, str]:
    """The data gateways (Parquet, JSON Lines) of a chunk of subscribers: ``pgw-01``/``pgw-02`` for the first,
    ``pgw-03``/``pgw-04`` for the second, and so on. A gateway serves its own subscribers and its files arrive in
    time order, as partial records need (docs/formats.md, "Partial records"); one gateway whose files came chunk
    after chunk would send each later chunk's sessions weeks behind its newest record."""
    return f"pgw-{2 * chunk + 1:02d}", f"pgw-{2 * chunk + 2:02d}"


# Shares of records sent to each format (the rest is canonical Parquet).
SHARE_CSV_VOICE = 0.08
SHARE_ASTERISK = 0.06  # of outgoing calls
SHARE_FREESWITCH = 0.06  # of outgoing calls
SHARE_CSV_SMS = 0.08
SHARE_JSONL_DATA = 0.06

# Injected faults, as shares of the records of a feed.
P_DUPLICATE = 0.002
P_DUPLICATE_ACROSS = 0.4  # of Parquet duplicates: the copy is sent again in a later file
P_PARTIAL = 0.004  # of data sessions: split into partial records
P_PARTIAL_ACROSS = 0.5  # of Parquet partial sessions begun on a file's last day: run on past midnight, into the next file
P_MALFORMED = 0.0008  # of canonical CSV and JSONL lines

# Cells: "460-00-<region><site>" (MCC 460, MNC 00), so a region's cells share a prefix.
CELLS_PER_REGION = 400
GBK_CELL_NAMES: tuple[str, ...] = (
    "上海浦东张江基站", "上海徐汇漕河泾基站", "北京海淀中关村基站", "北京朝阳国贸基站", "广州天河体育中心基站",
    "深圳南山科技园基站", "杭州西湖文三路基站", "南京鼓楼新街口基站", "成都高新天府基站", "武汉洪山光谷基站",
)
ROAM_NAMES: dict[str, tuple[str, str]] = {  # country -> (zh, en)
    "HK": ("香港", "Hong Kong"), "MO": ("澳门", "Macau"), "TW": ("台湾", "Taiwan"), "JP": ("日本", "Japan"),
    "KR": ("韩国", "Korea"), "SG": ("新加坡", "Singapore"), "TH": ("泰国", "Thailand"), "MY": ("马来西亚", "Malaysia"),
    "US": ("美国", "the US"), "GB": ("英国", "the UK"), "DE": ("德国", "Germany"), "FR": ("法国", "France"),
    "IT": ("意大利", "Italy"), "AE": ("阿联酋", "the UAE"), "BR": ("巴西", "Brazil"),
}
