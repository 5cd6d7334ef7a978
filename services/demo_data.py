"""The demo data set's vocabulary: Zhifu's places, departments and projects like the plan's."""

from __future__ import annotations

from dataclasses import dataclass

from services.projects.catalogue import SUB_DISTRICTS

# Streets and landmarks of Zhifu District, so names read like the office's own ledger.
PLACES = (
    "南大街",
    "北马路",
    "西盛街",
    "毓璜顶",
    "奇山",
    "东山",
    "世回尧",
    "黄务",
    "只楚",
    "幸福",
    "通伸",
    "凤凰台",
    "白石",
    "芝罘岛",
    "塔山",
    "大海阳",
    "上夼",
    "卧龙",
    "金沟寨",
    "西南河",
    "鲁东",
    "朝阳街",
    "港城",
    "滨海",
    "所城里",
    "烟台山",
    "珠玑",
    "红旗",
    "解放路",
    "环山路",
)
ROAD_NAMES = (
    "胜利路",
    "青年路",
    "南通路",
    "二马路",
    "文化路",
    "建设路",
    "港城西大街",
    "惠通路",
    "幸福南路",
    "芝罘屯路",
    "卧龙路",
    "只楚路",
    "通世路",
    "西关南街",
    "大海阳路",
    "红旗中路",
    "上尧路",
    "黄务路",
    "奇山路",
    "新石路",
    "凤凰台路",
    "华茂街",
    "电厂东路",
    "化工路",
)
RIVERS = ("鱼鸟河", "夹河", "逛荡河", "只楚河", "幸福河", "西南河")


@dataclass(frozen=True, slots=True)
class Kind:
    """How many projects of a category the demo holds, and how they are named and counted."""

    category: str
    count: int
    clause: str
    department: str
    names: tuple[str, ...]  # patterns; {place} / {road} / {river} / {n} are filled in
    quantity: tuple[float, float] | None = None  # range of the quantity, in the category unit
    investment: tuple[int, int] = (500, 5000)  # 万元


KINDS: tuple[Kind, ...] = (
    Kind(
        "school",
        15,
        "50",
        "区教体局",
        ("{place}小学新建工程", "{place}中学改扩建工程", "{place}九年一贯制学校建设项目"),
        None,
        (8000, 30000),
    ),
    Kind(
        "kindergarten",
        16,
        "51",
        "区教体局",
        ("{place}普惠性幼儿园新建工程", "{place}幼儿园改扩建项目"),
        None,
        (800, 3000),
    ),
    Kind(
        "hospital",
        5,
        "50",
        "区卫健局",
        ("{place}社区医院建设项目", "区中医医院{place}院区工程"),
        None,
        (15000, 60000),
    ),
    Kind(
        "venue",
        9,
        "50",
        "区文旅局",
        ("{place}全民健身中心", "{place}文化活动中心", "{place}体育场馆提升工程"),
        None,
        (2000, 12000),
    ),
    Kind(
        "talent_apartment",
        6,
        "50",
        "区住建局",
        ("{place}人才公寓项目",),
        (800, 2400),
        (20000, 80000),
    ),
    Kind(
        "road",
        22,
        "50",
        "区住建局",
        ("{road}改造提升工程", "{road}打通工程"),
        (0.6, 3.2),
        (1500, 9000),
    ),
    Kind(
        "old_community",
        30,
        "51",
        "区住建局",
        ("{place}片区老旧小区改造（第{n}批）",),
        None,
        (600, 4000),
    ),
    Kind("beautiful_community", 8, "51", "区民政局", ("{place}美好社区建设",), None, (300, 1500)),
    Kind("suburban_community", 18, "51", "区住建局", ("{place}城郊居民区改造",), None, (500, 3000)),
    Kind(
        "pocket_park", 36, "52", "区城管局", ("{place}口袋公园", "{road}街角游园"), None, (80, 600)
    ),
    Kind("river", 6, "40", "区水务局", ("{river}综合治理工程",), (1.5, 4.5), (3000, 15000)),
    Kind("elderly_care", 6, "51", "区民政局", ("{place}街道综合养老服务中心",), None, (500, 2500)),
    Kind("museum", 1, "73", "区文旅局", ("芝罘区博物馆新馆建设工程",), None, (30000, 30000)),
)

COMPANY_WORDS = (
    "海创",
    "蓝海",
    "东方",
    "睿达",
    "恒信",
    "华盛",
    "中科",
    "鲁蓝",
    "瀚海",
    "芝罘湾",
    "山海",
    "港华",
    "北极星",
    "盛泰",
    "新元",
    "云帆",
    "汇智",
    "金港",
    "鼎信",
    "启明",
    "万科",
    "合力",
    "远航",
    "瑞丰",
    "博远",
    "天润",
    "宏图",
    "泰和",
    "海晟",
    "正元",
    "华为达",
    "亿嘉",
    "康博",
    "德瑞",
    "科润",
    "同方",
    "鲲鹏",
    "创新",
    "信诺",
    "益康",
)
INDUSTRIES = (
    # (GB/T 4754 section, key chain, the word a name carries)
    ("I", "信息技术", "信息科技"),
    ("I", "数字经济", "数字科技"),
    ("C", "智能制造", "智能装备"),
    ("C", "海工装备", "海洋工程装备"),
    ("C", "生物医药", "生物医药"),
    ("C", "新材料", "新材料"),
    ("D", "新能源", "新能源"),
    ("C", "医疗器械", "医疗器械"),
    ("F", None, "商贸"),
    ("L", None, "企业管理"),
    ("M", None, "检测技术"),
    ("J", None, "融资租赁"),
)
SOURCE_CHANNELS = ("招商引资", "招商引资", "本地培育", "大学生创业", "返乡创业", "其他")
SIZES = ("large", "medium", "small", "small", "micro")

# (type, how many enterprises hold it) — roughly the district's mix; every type is in the
# enterprise catalogue and its validity (and level) defaults from there.
DESIGNATIONS = (
    ("high_tech", 60),
    ("tech_sme", 45),
    ("specialised_sme", 24),
    ("little_giant", 6),
    ("single_champion", 2),
    ("gazelle", 8),
    ("headquarters", 10),
    ("first_store", 14),
    ("trade_above_quota", 18),
    ("service_above_scale", 14),
)
# Types the plan counts as things: each grant names its item (a brand's first store).
ITEM_NAMES = {
    "first_store": ("喜茶", "蔚来中心", "盒马鲜生", "山姆会员店", "茑屋书店", "泡泡玛特", "始祖鸟"),
}
CERTIFICATE_PREFIX = {"high_tech": "GR", "tech_sme": "2024370602", "specialised_sme": "ZJTX"}

MILESTONES = {
    "reserve": (("approval", "立项审批"), ("land", "用地手续办理")),
    "starting": (("land", "土地供应"), ("start", "开工建设")),
    "building": (("topping_out", "主体封顶"), ("completion", "完工")),
    "built": (("acceptance", "竣工验收"),),
}
BLOCKERS = (
    ("land", "地块征收补偿尚未完成，影响施工进场", "区自然资源局"),
    ("funding", "专项债券资金拨付滞后", "区财政局"),
    ("utilities", "供电线路迁改需协调国网烟台供电公司", "区发改局"),
    ("approval", "施工许可手续待办结", "区行政审批服务局"),
    ("demolition", "沿街商户搬迁协商中", "所在街道办事处"),
)

__all__ = ["SUB_DISTRICTS"]
