#!/usr/bin/env python3
"""Generates deploy/data/registry.json from the hand-curated registry-seed.json and the catalogue below.

The seed holds what comes from public sources: the 38 districts with their GB/T 2260 codes and 166
real town and subdistrict names. This script adds

- the department types, named as Chongqing names them (重庆市公安局渝中区分局, 重庆市渝中区消防救援支队
  under the vertically managed 重庆市消防救援总队, each district's 综合行政执法支队, the command
  centre as the district's 城市运行和治理中心);
- the three functional zones that run enforcement for the towns they manage (两江新区,
  西部科学城重庆高新区, 万盛经开区), with their own departments and command centre;
- towns up to each district's approximate real count (TOWN_COUNTS, total 1,031), with codes that
  follow GB/T 2260 + 3 digits (001-099 街道, 101-199 镇, 201-299 乡); every code is synthetic, and
  every name not in the seed is synthetic too (`illustrative: true`);
- the enforcement-item catalogue (CATALOGUE): every item is an offence in the law it cites, with
  that law's article, who can commit it (individual / unit), whether it is persuade-first, its
  competent department and the kinds of town it is handed to. Which items are empowered,
  delegated, recovered or department-held, and every date but the January 2024 baseline, are
  illustrative unless the item is one the reform text names.

Deterministic (fixed seed, no clock): run `python3 deploy/data/gen_registry.py` and commit the
output; running it again gives an identical file. `--check` only compares (a unit test runs it).
"""

import json
import random
import sys
from pathlib import Path

import statutory as law

HERE = Path(__file__).resolve().parent
SEED = HERE / "registry-seed.json"
BENCHMARKS = HERE / "assist" / "benchmarks.json"
OUT = HERE / "registry.json"

BASELINE = "2024-01-01T00:00:00+08:00"
# When the towns first held the items recovered in 2024 (illustrative: the date of the earlier
# devolution is not in the sources used).
PRIOR = "2021-01-01T00:00:00+08:00"

# Department types. (code, zh, en, name pattern zh, name pattern en, county pattern zh or None,
# vertically managed by (zh, en) or None). `{district}` is the district's (or zone's) name.
DEPARTMENT_TYPES = [
    ("UM", "城市管理局", "Urban Management Bureau", "{district}城市管理局", "{district} Urban Management Bureau", None, None),
    ("CE", "综合行政执法支队", "Comprehensive Administrative Law Enforcement Detachment",
     "{district}综合行政执法支队", "{district} Comprehensive Administrative Law Enforcement Detachment", None, None),
    ("MS", "市场监督管理局", "Market Supervision Administration", "{district}市场监督管理局", "{district} Market Supervision Administration", None, None),
    ("EE", "生态环境局", "Ecology and Environment Bureau", "{district}生态环境局", "{district} Ecology and Environment Bureau", None, None),
    ("EM", "应急管理局", "Emergency Management Bureau", "{district}应急管理局", "{district} Emergency Management Bureau", None, None),
    ("FR", "消防救援支队", "Fire and Rescue Detachment", "重庆市{district}消防救援支队", "{district} Fire and Rescue Detachment", None,
     ("重庆市消防救援总队", "Chongqing Fire and Rescue Corps")),
    ("AR", "农业农村委员会", "Agriculture and Rural Affairs Commission", "{district}农业农村委员会", "{district} Agriculture and Rural Affairs Commission", None, None),
    ("HC", "住房和城乡建设委员会", "Housing and Urban-Rural Development Commission", "{district}住房和城乡建设委员会",
     "{district} Housing and Urban-Rural Development Commission", None, None),
    ("PN", "规划和自然资源局", "Planning and Natural Resources Bureau", "{district}规划和自然资源局", "{district} Planning and Natural Resources Bureau", None, None),
    ("TR", "交通运输委员会", "Transport Commission", "{district}交通运输委员会", "{district} Transport Commission", None, None),
    ("WR", "水利局", "Water Resources Bureau", "{district}水利局", "{district} Water Resources Bureau", None, None),
    ("CT", "文化和旅游发展委员会", "Culture and Tourism Development Commission", "{district}文化和旅游发展委员会",
     "{district} Culture and Tourism Development Commission", None, None),
    ("HE", "卫生健康委员会", "Health Commission", "{district}卫生健康委员会", "{district} Health Commission", None, None),
    ("PS", "公安局", "Public Security Bureau", "重庆市公安局{district}分局", "{district} Branch, Chongqing Municipal Public Security Bureau",
     "{district}公安局", None),
    ("LF", "林业局", "Forestry Bureau", "{district}林业局", "{district} Forestry Bureau", None, None),
    ("ED", "教育委员会", "Education Commission", "{district}教育委员会", "{district} Education Commission", None, None),
    ("CM", "商务委员会", "Commerce Commission", "{district}商务委员会", "{district} Commerce Commission", None, None),
    ("CA", "民政局", "Civil Affairs Bureau", "{district}民政局", "{district} Civil Affairs Bureau", None, None),
    ("HR", "人力资源和社会保障局", "Human Resources and Social Security Bureau", "{district}人力资源和社会保障局",
     "{district} Human Resources and Social Security Bureau", None, None),
    ("JU", "司法局", "Justice Bureau", "{district}司法局", "{district} Justice Bureau", None, None),
    ("EI", "经济和信息化委员会", "Economy and Information Technology Commission", "{district}经济和信息化委员会",
     "{district} Economy and Information Technology Commission", None, None),
    ("SP", "体育局", "Sports Bureau", "{district}体育局", "{district} Sports Bureau", None, None),
    ("MA", "医疗保障局", "Healthcare Security Administration", "{district}医疗保障局", "{district} Healthcare Security Administration", None, None),
    ("TB", "烟草专卖局", "Tobacco Monopoly Bureau", "{district}烟草专卖局", "{district} Tobacco Monopoly Bureau", None,
     ("重庆市烟草专卖局", "Chongqing Tobacco Monopoly Bureau")),
    ("RE", "民族宗教事务委员会", "Ethnic and Religious Affairs Commission", "{district}民族宗教事务委员会",
     "{district} Ethnic and Religious Affairs Commission", None, None),
    ("CC", "城市运行和治理中心", "City Operation and Governance Centre", "{district}城市运行和治理中心",
     "{district} City Operation and Governance Centre", None, None),
]

# Functional zones: synthetic 6-digit codes (no GB/T 2260 code exists for them), the towns they
# run enforcement for (administrative district, name, kind) and the department types they have.
ZONE_TYPES = ["UM", "CE", "MS", "EE", "EM", "FR", "AR", "HC", "PN", "TR", "WR", "CT", "HE", "PS", "ED", "CM",
              "CA", "HR", "JU", "EI"]
ZONES = [
    ("500191", "两江新区", "Liangjiang New Area", [
        ("500105", "寸滩街道", "Cuntan Subdistrict", "subdistrict"),
        ("500105", "郭家沱街道", "Guojiatuo Subdistrict", "subdistrict"),
        ("500105", "鱼嘴镇", "Yuzui Town", "town"),
        ("500105", "复盛镇", "Fusheng Town", "town"),
        ("500105", "五宝镇", "Wubao Town", "town"),
        ("500112", "人和街道", "Renhe Subdistrict", "subdistrict"),
        ("500112", "大竹林街道", "Dazhulin Subdistrict", "subdistrict"),
        ("500112", "礼嘉街道", "Lijia Subdistrict", "subdistrict"),
        ("500112", "天宫殿街道", "Tiangongdian Subdistrict", "subdistrict"),
        ("500112", "翠云街道", "Cuiyun Subdistrict", "subdistrict"),
        ("500112", "金山街道", "Jinshan Subdistrict", "subdistrict"),
        ("500112", "康美街道", "Kangmei Subdistrict", "subdistrict"),
        ("500112", "龙兴镇", "Longxing Town", "town"),
        ("500109", "水土街道", "Shuitu Subdistrict", "subdistrict"),
    ]),
    ("500192", "西部科学城重庆高新区", "Chongqing High-tech Zone, Western (Chongqing) Science City", [
        ("500106", "虎溪街道", "Huxi Subdistrict", "subdistrict"),
        ("500106", "西永街道", "Xiyong Subdistrict", "subdistrict"),
        ("500106", "香炉山街道", "Xianglushan Subdistrict", "subdistrict"),
        ("500106", "曾家镇", "Zengjia Town", "town"),
        ("500107", "含谷镇", "Hangu Town", "town"),
        ("500107", "金凤镇", "Jinfeng Town", "town"),
        ("500107", "白市驿镇", "Baishiyi Town", "town"),
        ("500107", "巴福镇", "Bafu Town", "town"),
        ("500107", "石板镇", "Shiban Town", "town"),
    ]),
    ("500193", "万盛经开区", "Wansheng Economic and Technological Development Zone", [
        ("500110", "万盛街道", "Wansheng Subdistrict", "subdistrict"),
        ("500110", "东林街道", "Donglin Subdistrict", "subdistrict"),
        ("500110", "南桐镇", "Nantong Town", "town"),
        ("500110", "青年镇", "Qingnian Town", "town"),
        ("500110", "关坝镇", "Guanba Town", "town"),
        ("500110", "丛林镇", "Conglin Town", "town"),
        ("500110", "石林镇", "Shilin Town", "town"),
        ("500110", "金桥镇", "Jinqiao Town", "town"),
        ("500110", "黑山镇", "Heishan Town", "town"),
        ("500110", "万东镇", "Wandong Town", "town"),
    ]),
]

# Approximate real numbers of subdistricts (街道), towns (镇) and townships (乡) per district, after
# the public administrative-division lists of recent years (functional-zone towns included in
# their administrative district). Approximate: the split is rounded where sources differ; the
# total is the reform's 1,031.
TOWN_COUNTS = {
    "500101": (11, 29, 12), "500102": (8, 18, 1), "500103": (11, 0, 0), "500104": (5, 3, 0),
    "500105": (9, 3, 0), "500106": (21, 5, 0), "500107": (12, 7, 0), "500108": (8, 7, 0),
    "500109": (9, 8, 0), "500110": (7, 24, 0), "500111": (6, 21, 0), "500112": (19, 11, 0),
    "500113": (8, 15, 0), "500114": (6, 15, 9), "500115": (7, 12, 0), "500116": (5, 25, 0),
    "500117": (7, 23, 0), "500118": (7, 16, 0), "500119": (3, 28, 3), "500120": (6, 9, 0),
    "500151": (5, 23, 0), "500152": (2, 20, 0), "500153": (6, 15, 0), "500154": (7, 26, 7),
    "500155": (2, 26, 5), "500156": (4, 11, 12), "500229": (2, 10, 13), "500230": (2, 21, 7),
    "500231": (2, 22, 2), "500233": (4, 19, 6), "500235": (4, 31, 7), "500236": (4, 19, 10),
    "500237": (2, 11, 13), "500238": (2, 17, 13), "500240": (3, 17, 13), "500241": (4, 19, 4),
    "500242": (2, 19, 18), "500243": (3, 18, 18),
}
TOTAL_TOWNS = 1031

SYLLABLES = [
    ("青", "Qing"), ("龙", "Long"), ("石", "Shi"), ("桥", "Qiao"), ("河", "He"), ("坝", "Ba"),
    ("山", "Shan"), ("溪", "Xi"), ("沙", "Sha"), ("新", "Xin"), ("安", "An"), ("平", "Ping"),
    ("兴", "Xing"), ("隆", "Long"), ("福", "Fu"), ("华", "Hua"), ("明", "Ming"), ("清", "Qing"),
    ("白", "Bai"), ("马", "Ma"), ("金", "Jin"), ("凤", "Feng"), ("云", "Yun"), ("松", "Song"),
    ("柏", "Bai"), ("竹", "Zhu"), ("岩", "Yan"), ("塘", "Tang"), ("湾", "Wan"), ("岭", "Ling"),
    ("田", "Tian"), ("家", "Jia"), ("元", "Yuan"), ("和", "He"), ("太", "Tai"), ("长", "Chang"),
]
KINDS = {"subdistrict": ("街道", "Subdistrict", 1), "town": ("镇", "Town", 101), "township": ("乡", "Township", 201)}
BOTH, IND, UNIT = ["individual", "unit"], ["individual"], ["unit"]
RURAL = ["town", "township"]

# The catalogue. (code, zh, en, category, competent department, legal basis, subject kinds,
# authority now, town kinds or None (= all), keywords zh, keywords en). Authority:
# `empowered`/`delegated` (towns since 2024-01-01), `statutory` (the town's own), `recovered`
# (towns held it from PRIOR, the department since 2024-01-01), `department` (held by the
# department throughout), `optional` (department-held city-wide; some towns take it up).
# `history`: the item's own history (HISTORIES). Statutory ranges, persuade-first and the
# benchmarks come from statutory.py; the subject kinds are those the law gives a range for.
CATALOGUE = [
    # -- Named in the reform text (illustrative: false) --
    ("CQ-FIRE-001", "损坏、挪用或者擅自拆除、停用住宅消防设施、器材", "Damaging, misusing or removing residential fire equipment",
     "fire_safety", "FR", "《中华人民共和国消防法》第六十条第一款第一项", BOTH, "empowered", None, ["消防栓", "灭火器", "消防设施"], ["fire hydrant", "extinguisher"]),
    ("CQ-FIRE-002", "堆放杂物占用、堵塞、封闭消防通道", "Debris occupying, blocking or closing fire exits",
     "fire_safety", "FR", "《中华人民共和国消防法》第六十条第一款第三项、第五项", BOTH, "empowered", None, ["消防通道", "杂物", "堵塞"], ["fire exit", "blocked"]),
    ("CQ-CITY-001", "占道经营", "Vendors occupying roads",
     "city_appearance", "UM", "《城市市容和环境卫生管理条例》第十四条、第三十六条第二项", IND, "empowered", None, ["占道经营", "摆摊", "流动摊贩"], ["street vendor", "stall"]),
    ("CQ-AGRI-001", "沿河违规垂钓、非法捕捞", "Illegal fishing along rivers",
     "agriculture_fishery", "AR", "《中华人民共和国长江保护法》第五十三条、第八十六条；《中华人民共和国渔业法》第三十八条", IND, "empowered", None, ["钓鱼", "垂钓", "电鱼"], ["fishing", "angling"]),
    ("CQ-ENV-001", "非法处置危险废物", "Illegal disposal of hazardous waste",
     "environment", "EE", "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款", UNIT, "recovered", None, ["危险废物", "危废", "废机油"], ["hazardous waste"]),
    # -- City appearance and sanitation --
    ("CQ-CITY-002", "随地吐痰、乱扔果皮纸屑烟头等废弃物", "Spitting or littering", "city_appearance", "UM",
     "《城市市容和环境卫生管理条例》第三十二条、第三十四条第一项", IND, "empowered", None, ["乱扔垃圾", "烟头", "吐痰"], ["litter", "spitting"]),
    ("CQ-CITY-003", "擅自设置户外广告、招牌", "Outdoor advertising or signboards set up without approval", "city_appearance", "UM",
     "《城市市容和环境卫生管理条例》第十一条、第三十六条第一项", BOTH, "history", None, ["户外广告", "招牌", "广告牌"], ["billboard", "signboard"]),
    ("CQ-CITY-004", "乱张贴、乱涂写、乱刻画", "Fly-posting, graffiti and carving", "city_appearance", "UM",
     "《城市市容和环境卫生管理条例》第十七条、第三十四条第二项", BOTH, "empowered", None, ["小广告", "牛皮癣", "涂鸦"], ["fly-posting", "graffiti"]),
    ("CQ-CITY-005", "擅自倾倒、抛撒建筑垃圾", "Dumping or spilling construction waste", "city_appearance", "UM",
     "《中华人民共和国固体废物污染环境防治法》第一百一十一条第一款第四项", BOTH, "history", None, ["建筑垃圾", "渣土", "倾倒"], ["construction waste", "muck"]),
    ("CQ-CITY-006", "损毁城市绿地、树木花草", "Damaging urban green space and trees", "city_appearance", "UM",
     "《城市绿化条例》第二十六条", BOTH, "empowered", None, ["绿化带", "树木", "毁绿"], ["green belt", "trees"]),
    ("CQ-CITY-007", "临街晾晒、吊挂物品影响市容", "Hanging laundry or goods over the street", "city_appearance", "UM",
     "《城市市容和环境卫生管理条例》第九条、第三十四条第四项", BOTH, "empowered", None, ["晾晒", "吊挂", "临街"], ["laundry", "hanging"]),
    ("CQ-CITY-008", "未按规定分类投放生活垃圾", "Household waste not sorted as required", "city_appearance", "UM",
     "《中华人民共和国固体废物污染环境防治法》第四十九条；《重庆市生活垃圾管理条例》", BOTH, "empowered", None, ["垃圾分类", "混投", "生活垃圾"], ["waste sorting"]),
    ("CQ-CITY-009", "在城市建筑物、设施以及树木上擅自涂写、刻画", "Writing or carving on buildings, facilities or trees",
     "city_appearance", "UM", "《城市市容和环境卫生管理条例》第十七条第一款、第三十四条第三项", IND, "empowered", None, ["刻画", "涂写", "墙面"], ["carving", "defacing"]),
    ("CQ-CITY-010", "运输液体、散装货物不作密封、包扎、覆盖，造成泄漏、遗撒", "Loads leaking or spilling in transport",
     "city_appearance", "UM", "《城市市容和环境卫生管理条例》第十五条、第三十四条第六项", BOTH, "empowered", None, ["遗撒", "渣土车", "洒漏"], ["spilled load", "muck truck"]),
    ("CQ-CITY-011", "饲养家畜家禽影响市容和环境卫生", "Keeping livestock or poultry in the city", "city_appearance", "UM",
     "《城市市容和环境卫生管理条例》第二十四条、第三十四条第五项", IND, "empowered", ["subdistrict", "town"], ["养鸡", "养鸭", "家禽"], ["poultry", "livestock"]),
    ("CQ-CITY-012", "擅自占用城市绿化用地", "Occupying urban green land without approval", "city_appearance", "UM",
     "《城市绿化条例》第二十条、第二十七条", BOTH, "recovered", None, ["占用绿地", "绿化用地"], ["green land occupied"]),
    ("CQ-CITY-013", "擅自砍伐城市树木", "Felling urban trees without approval", "city_appearance", "UM",
     "《城市绿化条例》第二十条、第二十六条第二项", BOTH, "empowered", None, ["砍树", "行道树"], ["street tree felled"]),
    ("CQ-CITY-014", "未经批准在城市道路上设置临时摊点或者堆放物料", "Stalls or materials on city roads without approval",
     "city_appearance", "UM", "《城市道路管理条例》第三十一条、第四十二条第二项", BOTH, "empowered", None, ["堆放物料", "道路占用"], ["road occupied", "materials on road"]),
    ("CQ-CITY-015", "擅自挖掘城市道路", "Digging up city roads without approval", "city_appearance", "UM",
     "《城市道路管理条例》第三十三条、第四十二条第三项", UNIT, "recovered", None, ["挖路", "开挖道路"], ["road dug up"]),
    ("CQ-CITY-016", "在城市道路上机动车维修、清洗占用道路", "Repairing or washing vehicles on city roads",
     "city_appearance", "UM", "《城市道路管理条例》第二十七条第三项、第四十二条第一项", BOTH, "empowered", None, ["修车", "洗车", "占道"], ["car repair on road", "car wash"]),
    ("CQ-CITY-017", "擅自在街道两侧和公共场地堆放物料，搭建建筑物、构筑物或者其他设施", "Materials or structures on street sides and public spaces",
     "city_appearance", "UM", "《城市市容和环境卫生管理条例》第十四条、第三十六条第二项", BOTH, "empowered", None, ["乱搭乱建", "雨棚", "堆物"], ["shed", "structure on pavement"]),
    ("CQ-CITY-018", "违反规定处置餐厨垃圾", "Kitchen waste handled in breach of the rules", "city_appearance", "UM",
     "《中华人民共和国固体废物污染环境防治法》第一百一十一条；《重庆市餐厨垃圾管理办法》", UNIT, "empowered", None, ["餐厨垃圾", "泔水"], ["kitchen waste", "swill"]),
    # -- Environment --
    ("CQ-ENV-002", "夜间建筑施工噪声扰民", "Night-time construction noise", "environment", "EE",
     "《中华人民共和国噪声污染防治法》第四十三条、第七十七条第一款", UNIT, "empowered", None, ["施工噪音", "夜间施工", "扰民"], ["night construction noise"]),
    ("CQ-ENV-003", "露天焚烧秸秆", "Open burning of straw", "environment", "EE",
     "《中华人民共和国大气污染防治法》第七十七条、第一百一十九条第一款", BOTH, "empowered", RURAL, ["秸秆", "焚烧", "烧稻草"], ["straw burning"]),
    ("CQ-ENV-004", "露天焚烧垃圾、落叶等产生有毒有害烟尘的物质", "Open burning of waste releasing toxic smoke", "environment", "EE",
     "《中华人民共和国大气污染防治法》第八十二条第一款、第一百一十九条第二款", BOTH, "empowered", None, ["烧垃圾", "焚烧", "塑料"], ["burning rubbish"]),
    ("CQ-ENV-005", "在禁止区域露天烧烤食品", "Open-air barbecue where it is banned", "environment", "EE",
     "《中华人民共和国大气污染防治法》第八十一条第三款、第一百一十八条第三款", BOTH, "empowered", None, ["烧烤", "夜宵摊", "露天烧烤"], ["barbecue stall"]),
    ("CQ-ENV-006", "餐饮服务业油烟未经净化直接排放", "Restaurant fumes released without purification", "environment", "EE",
     "《中华人民共和国大气污染防治法》第八十一条第一款、第一百一十八条第一款", UNIT, "history", None, ["油烟", "餐馆", "净化器"], ["cooking fumes"]),
    ("CQ-ENV-007", "超标排放或私设暗管排放水污染物", "Discharging water pollutants above limits or through hidden pipes", "environment", "EE",
     "《中华人民共和国水污染防治法》第八十三条第二项、第三项", UNIT, "department", None, ["排污", "污水", "暗管"], ["sewage", "hidden pipe"]),
    ("CQ-ENV-008", "工业企业超标排放大气污染物", "Industrial air emissions above limits", "environment", "EE",
     "《中华人民共和国大气污染防治法》第九十九条第二项", UNIT, "department", None, ["废气", "烟囱", "工厂排放"], ["factory emissions"]),
    ("CQ-ENV-009", "在居民住宅楼、未配套设立专用烟道的商住综合楼内新建、改建、扩建产生油烟的餐饮服务项目", "Fume-producing eateries opened in residential buildings",
     "environment", "EE", "《中华人民共和国大气污染防治法》第八十一条第二款、第一百一十八条第二款", UNIT, "empowered", None, ["住宅楼餐馆", "烟道"], ["restaurant in residential block"]),
    ("CQ-ENV-010", "建设单位未采取扬尘污染防治措施", "Building sites without dust controls", "environment", "HC",
     "《中华人民共和国大气污染防治法》第六十九条、第一百一十五条第一款", UNIT, "recovered", None, ["扬尘", "工地", "灰尘"], ["construction dust"]),
    ("CQ-ENV-011", "文化娱乐场所等经营场所边界噪声超过排放标准", "Entertainment venues exceeding noise limits", "environment", "EE",
     "《中华人民共和国噪声污染防治法》第六十一条、第八十七条第一项", UNIT, "empowered", None, ["噪音", "音响", "酒吧"], ["bar noise", "loud music"]),
    ("CQ-ENV-012", "在噪声敏感建筑物集中区域使用高音广播喇叭", "Loudspeakers in noise-sensitive areas", "environment", "PS",
     "《中华人民共和国噪声污染防治法》第六十四条、第八十七条第二项", BOTH, "empowered", None, ["喇叭", "叫卖", "广播"], ["loudspeaker"]),
    ("CQ-ENV-013", "畜禽养殖场未建设污染防治配套设施", "Livestock farms without pollution-control facilities", "environment", "EE",
     "《畜禽规模养殖污染防治条例》第十三条、第三十九条", UNIT, "recovered", RURAL, ["养殖场", "粪污", "猪场"], ["pig farm", "manure"]),
    ("CQ-ENV-014", "在禁养区内建设畜禽养殖场", "Livestock farms in no-farming zones", "environment", "EE",
     "《畜禽规模养殖污染防治条例》第十一条、第三十七条", BOTH, "department", None, ["禁养区", "养殖"], ["no-farming zone"]),
    ("CQ-ENV-015", "产生工业固体废物的单位未建立固体废物管理台账", "No ledger of industrial solid waste", "environment", "EE",
     "《中华人民共和国固体废物污染环境防治法》第三十六条、第一百零二条第一款第七项", UNIT, "department", None, ["固废台账", "工业固废"], ["solid waste ledger"]),
    # -- Water --
    ("CQ-WATR-001", "在河道管理范围内弃置垃圾、堆放物料", "Dumping waste or materials in river management zones", "water", "WR",
     "《中华人民共和国河道管理条例》第二十四条、第四十四条第三项", BOTH, "empowered", None, ["河道", "河滩", "倾倒"], ["riverbank dumping"]),
    ("CQ-WATR-002", "未经许可在河道非法采砂", "Dredging sand from rivers without a permit", "water", "WR",
     "《中华人民共和国长江保护法》第二十八条、第九十一条", BOTH, "recovered", None, ["采砂", "挖沙", "河沙"], ["sand dredging"]),
    ("CQ-WATR-003", "在河道管理范围内建设妨碍行洪的建筑物、构筑物", "Structures obstructing flood flow in river zones", "water", "WR",
     "《中华人民共和国水法》第三十七条第二款、第六十五条第一款", BOTH, "department", None, ["行洪", "河道", "违建"], ["flood channel"]),
    ("CQ-WATR-004", "在水工程保护范围内从事爆破、打井、采石、取土等危害水工程安全的活动", "Blasting, quarrying or digging near water works",
     "water", "WR", "《中华人民共和国水法》第四十三条第四款、第七十二条第一项", BOTH, "recovered", RURAL, ["水库", "堤坝", "取土"], ["reservoir", "dam"]),
    ("CQ-WATR-005", "在崩塌、滑坡危险区或者泥石流易发区从事取土、挖砂、采石等可能造成水土流失的活动", "Digging in landslide or debris-flow zones",
     "water", "WR", "《中华人民共和国水土保持法》第十七条、第四十八条", BOTH, "department", None, ["滑坡", "取土", "水土流失"], ["landslide zone"]),
    # -- Agriculture and rural affairs --
    ("CQ-AGRI-002", "农村村民未经批准或者采取欺骗手段骗取批准，非法占用土地建住宅", "Villagers occupying land to build houses without approval",
     "agriculture_fishery", "AR", "《中华人民共和国土地管理法》第六十二条、第七十八条", IND, "empowered", RURAL, ["宅基地", "农村建房", "乱占耕地"], ["homestead", "rural house"]),
    ("CQ-AGRI-003", "未按规定处理病死畜禽", "Dead livestock not disposed of as required", "agriculture_fishery", "AR",
     "《中华人民共和国动物防疫法》第五十七条、第九十八条第五项", BOTH, "delegated", RURAL, ["病死猪", "死畜禽", "乱扔死猪"], ["dead pigs"]),
    ("CQ-AGRI-004", "销售、使用禁用农药", "Selling or using banned pesticides", "agriculture_fishery", "AR",
     "《农药管理条例》第三十四条、第六十条第一款", BOTH, "department", None, ["农药", "禁用农药", "百草枯"], ["banned pesticide"]),
    ("CQ-AGRI-005", "使用禁用的渔具、捕捞方法进行捕捞", "Fishing with banned gear or methods", "agriculture_fishery", "AR",
     "《中华人民共和国渔业法》第三十条、第三十八条第一款", IND, "empowered", None, ["电鱼", "炸鱼", "毒鱼"], ["electrofishing"]),
    ("CQ-AGRI-006", "农药使用者未按照农药标签标注的使用范围、使用方法和剂量使用农药", "Pesticides used against label instructions",
     "agriculture_fishery", "AR", "《农药管理条例》第三十四条、第六十条第一款第一项", BOTH, "empowered", RURAL, ["打药", "农药超量"], ["pesticide misuse"]),
    ("CQ-AGRI-007", "经营未附具检疫证明的动物、动物产品", "Selling animals or meat without quarantine certificates",
     "agriculture_fishery", "AR", "《中华人民共和国动物防疫法》第二十九条第一项、第一百条第一款", BOTH, "recovered", None, ["检疫", "猪肉", "无证肉"], ["uninspected meat"]),
    ("CQ-AGRI-008", "经营假、劣种子", "Selling counterfeit or substandard seed", "agriculture_fishery", "AR",
     "《中华人民共和国种子法》第四十八条、第七十四条、第七十五条", UNIT, "department", None, ["假种子", "劣种子"], ["fake seed"]),
    # -- Transport --
    ("CQ-TRAN-001", "在公路及公路用地范围内摆摊设点、堆放物品", "Stalls or goods on highways and highway land", "transport", "TR",
     "《中华人民共和国公路法》第四十六条、第七十七条", BOTH, "history", None, ["公路", "路边堆放", "晒粮"], ["highway", "drying grain"]),
    ("CQ-TRAN-002", "车辆违法超限运输", "Overloaded vehicles on highways", "transport", "TR",
     "《公路安全保护条例》第三十三条、第六十四条", BOTH, "department", None, ["超载", "超限", "货车"], ["overloaded truck"]),
    ("CQ-TRAN-003", "未取得道路运输经营许可擅自从事道路客运经营", "Passenger transport without a licence", "transport", "TR",
     "《中华人民共和国道路运输条例》第十条、第六十三条", BOTH, "department", None, ["黑车", "非法营运", "摩的"], ["unlicensed taxi"]),
    ("CQ-TRAN-004", "在公路建筑控制区内修建建筑物、地面构筑物", "Building in highway building-control zones", "transport", "TR",
     "《中华人民共和国公路法》第五十六条、第八十一条", BOTH, "empowered", RURAL, ["公路边建房", "控制区"], ["building by highway"]),
    ("CQ-TRAN-005", "擅自在公路上设置平面交叉道口", "Unauthorised at-grade junctions onto highways", "transport", "TR",
     "《中华人民共和国公路法》第五十五条、第七十六条第五项", BOTH, "recovered", None, ["道口", "接入公路"], ["highway access"]),
    # -- Construction, housing and planning --
    ("CQ-CONS-001", "在乡、村庄规划区内未依法取得乡村建设规划许可证进行建设", "Building in village planning areas without a rural building permit",
     "construction", "PN", "《中华人民共和国城乡规划法》第四十一条、第六十五条", BOTH, "statutory", RURAL, ["乡村规划", "违法建设", "农村建房"], ["rural building permit"]),
    ("CQ-CONS-002", "施工单位未采取安全防护措施", "Building sites without safety protection", "construction", "HC",
     "《建设工程安全生产管理条例》第二十八条、第六十二条", UNIT, "recovered", None, ["工地安全", "脚手架", "安全帽"], ["site safety"]),
    ("CQ-CONS-003", "未取得施工许可证擅自施工", "Building without a construction permit", "construction", "HC",
     "《中华人民共和国建筑法》第七条、第六十四条", UNIT, "department", None, ["施工许可", "无证施工", "开工"], ["no construction permit"]),
    ("CQ-CONS-004", "城镇规划区内未取得建设工程规划许可证进行建设", "Building in urban planning areas without a planning permit",
     "construction", "CE", "《中华人民共和国城乡规划法》第四十条、第六十四条；《重庆市查处违法建筑条例》", BOTH, "department", None, ["违法建筑", "违建", "加建"], ["illegal building"]),
    ("CQ-CONS-005", "装修人擅自变动建筑主体和承重结构", "Renovations altering load-bearing structures", "construction", "HC",
     "《住宅室内装饰装修管理办法》第五条、第三十八条", BOTH, "empowered", ["subdistrict", "town"], ["拆承重墙", "装修", "砸墙"], ["load-bearing wall"]),
    ("CQ-CONS-006", "物业服务人将住宅专项维修资金挪作他用", "Property managers misusing repair funds", "construction", "HC",
     "《物业管理条例》第五十三条、第六十三条", UNIT, "department", None, ["维修基金", "物业"], ["maintenance fund"]),
    ("CQ-CONS-007", "擅自改变物业管理区域内按照规划建设的公共建筑和共用设施用途", "Changing the use of shared facilities in an estate",
     "construction", "HC", "《物业管理条例》第四十九条、第六十四条", BOTH, "empowered", ["subdistrict", "town"], ["物业用房", "公共设施改用途"], ["shared facilities"]),
    # -- Natural resources and forestry --
    ("CQ-NRES-001", "未取得采矿许可证擅自采矿", "Mining without a mining licence", "natural_resources", "PN",
     "《中华人民共和国矿产资源法》第三条、第三十九条", BOTH, "recovered", None, ["采矿", "挖矿", "采石"], ["illegal mining"]),
    ("CQ-NRES-002", "非法占用耕地进行非农建设", "Occupying farmland for non-farm building", "natural_resources", "PN",
     "《中华人民共和国土地管理法》第四十四条、第七十七条", BOTH, "department", None, ["占用耕地", "违法占地", "基本农田"], ["farmland occupied"]),
    ("CQ-NRES-003", "非法猎捕、出售野生动物", "Hunting or selling wild animals illegally", "natural_resources", "LF",
     "《中华人民共和国野生动物保护法》第二十四条、第四十九条", BOTH, "department", None, ["野生动物", "打猎", "捕鸟"], ["poaching"]),
    ("CQ-NRES-004", "滥伐林木、擅自改变林地用途", "Excessive felling or converting forest land", "natural_resources", "LF",
     "《中华人民共和国森林法》第七十三条、第七十四条", BOTH, "department", None, ["砍伐", "林地", "毁林"], ["illegal logging"]),
    ("CQ-NRES-005", "森林防火期内未经批准擅自在森林防火区内野外用火", "Lighting fires in forest fire-prevention zones",
     "natural_resources", "LF", "《森林防火条例》第二十五条、第五十条", BOTH, "empowered", RURAL, ["野外用火", "烧山", "上坟烧纸"], ["wildfire", "open fire"]),
    ("CQ-NRES-006", "擅自移动、损毁永久性测量标志", "Moving or damaging permanent survey markers", "natural_resources", "PN",
     "《中华人民共和国测绘法》第四十二条、第六十四条", BOTH, "department", None, ["测量标志", "测绘桩"], ["survey marker"]),
    ("CQ-NRES-007", "临时使用土地期满不恢复种植条件", "Temporary land use not restored to farming", "natural_resources", "PN",
     "《中华人民共和国土地管理法》第五十七条、《中华人民共和国土地管理法实施条例》第五十六条", BOTH, "empowered", RURAL, ["临时用地", "复垦"], ["temporary land use"]),
    # -- Market supervision --
    ("CQ-MKT-001", "食品摊贩未按规定登记从事经营", "Food vendors trading without registration", "market", "MS",
     "《中华人民共和国食品安全法》第三十六条；《重庆市食品生产加工小作坊和食品摊贩管理条例》", IND, "delegated", None, ["食品摊贩", "小吃摊", "登记卡"], ["food stall"]),
    ("CQ-MKT-002", "食品生产者超出许可范围生产食品", "Food production beyond the licensed scope", "market", "MS",
     "《中华人民共和国食品安全法》第三十五条、第一百二十二条", UNIT, "recovered", None, ["食品生产许可", "超范围", "食品厂"], ["food factory"]),
    ("CQ-MKT-003", "未取得食品生产经营许可从事食品生产经营", "Producing or selling food without a licence", "market", "MS",
     "《中华人民共和国食品安全法》第三十五条、第一百二十二条第一款", BOTH, "department", None, ["无证", "食品生产", "黑作坊"], ["unlicensed food business"]),
    ("CQ-MKT-004", "经营超过保质期的食品", "Selling food past its shelf life", "market", "MS",
     "《中华人民共和国食品安全法》第三十四条第十项、第一百二十四条第一款第五项", BOTH, "department", None, ["过期食品", "保质期", "超市"], ["expired food"]),
    ("CQ-MKT-005", "经营者不明码标价", "Prices not clearly marked", "market", "MS",
     "《中华人民共和国价格法》第十三条、第四十二条", BOTH, "empowered", None, ["明码标价", "价格"], ["price tag"]),
    ("CQ-MKT-006", "使用未经检定或者检定不合格的计量器具", "Using uncalibrated weighing instruments", "market", "MS",
     "《中华人民共和国计量法》第九条、第十五条；《中华人民共和国计量法实施细则》第四十三条", BOTH, "empowered", None, ["缺斤少两", "秤", "计量"], ["short weight", "scales"]),
    ("CQ-MKT-007", "未取得营业执照从事经营活动", "Trading without a business licence", "market", "MS",
     "《无证无照经营查处办法》第二条、第十三条", BOTH, "recovered", None, ["无照经营", "营业执照"], ["no business licence"]),
    # -- Safety production --
    ("CQ-SAFE-001", "危险化学品储存不符合安全要求", "Hazardous chemicals stored unsafely", "safety_production", "EM",
     "《危险化学品安全管理条例》第二十四条、第八十条第一款第四项", UNIT, "recovered", None, ["危化品", "化学品仓库", "储存"], ["chemical storage"]),
    ("CQ-SAFE-002", "非法生产、经营、储存烟花爆竹", "Making, selling or storing fireworks illegally", "safety_production", "EM",
     "《烟花爆竹安全管理条例》第三十六条第一款", BOTH, "recovered", None, ["烟花爆竹", "鞭炮", "非法储存"], ["fireworks storage"]),
    ("CQ-SAFE-003", "使用未经定期检验或者检验不合格的特种设备", "Using special equipment without periodic inspection", "safety_production", "MS",
     "《中华人民共和国特种设备安全法》第四十条、第八十四条第一项", UNIT, "recovered", None, ["电梯", "锅炉", "特种设备"], ["lift inspection", "boiler"]),
    ("CQ-SAFE-004", "生产经营单位未按规定对从业人员进行安全生产教育和培训", "No safety training for workers", "safety_production", "EM",
     "《中华人民共和国安全生产法》第二十八条、第九十七条第三项", UNIT, "department", None, ["安全培训", "安全生产", "企业"], ["safety training"]),
    ("CQ-SAFE-005", "生产经营单位未将事故隐患排查治理情况如实记录", "Hazard checks not recorded", "safety_production", "EM",
     "《中华人民共和国安全生产法》第四十一条第二款、第一百零二条", UNIT, "empowered", None, ["隐患排查", "台账"], ["hazard log"]),
    ("CQ-SAFE-006", "生产经营场所和员工宿舍未设有符合紧急疏散需要的出口", "Workplaces or dormitories without emergency exits",
     "safety_production", "EM", "《中华人民共和国安全生产法》第四十二条、第一百零五条第二项", UNIT, "empowered", None, ["员工宿舍", "三合一", "疏散"], ["dormitory exits"]),
    # -- Fire safety --
    ("CQ-FIRE-003", "在住宅楼道、安全出口停放电动自行车或者为其充电", "E-bikes parked or charged in corridors and exits", "fire_safety", "FR",
     "《高层民用建筑消防安全管理规定》第三十七条、第四十七条第一款第六项", IND, "delegated", None, ["电动车", "充电", "楼道"], ["e-bike charging"]),
    ("CQ-FIRE-004", "公众聚集场所未经消防安全检查擅自投入使用、营业", "Public venues opening without a fire-safety inspection", "fire_safety", "FR",
     "《中华人民共和国消防法》第十五条、第五十八条第一款第四项", UNIT, "recovered", None, ["消防检查", "KTV", "商场"], ["fire inspection"]),
    ("CQ-FIRE-005", "埋压、圈占、遮挡消火栓或者占用防火间距", "Burying, fencing in or hiding fire hydrants", "fire_safety", "FR",
     "《中华人民共和国消防法》第二十八条、第六十条第一款第四项", BOTH, "empowered", None, ["消火栓", "遮挡", "防火间距"], ["hydrant hidden"]),
    ("CQ-FIRE-006", "人员密集场所在门窗上设置影响逃生和灭火救援的障碍物", "Window bars obstructing escape in crowded venues", "fire_safety", "FR",
     "《中华人民共和国消防法》第二十八条、第六十条第一款第六项", UNIT, "empowered", None, ["防盗网", "铁栅栏", "逃生"], ["window bars"]),
    ("CQ-FIRE-007", "生产、储存、经营易燃易爆危险品的场所与居住场所设置在同一建筑物内", "Flammable goods stored in a building people live in",
     "fire_safety", "FR", "《中华人民共和国消防法》第十九条、第六十一条第一款", BOTH, "recovered", None, ["三合一", "易燃易爆", "住人"], ["live-work premises"]),
    # -- Health (specialist: held by departments) --
    ("CQ-HLTH-001", "在禁止吸烟场所吸烟", "Smoking where it is banned", "health", "HE",
     "《重庆市公共场所控制吸烟条例》第十条、第二十八条", IND, "delegated", None, ["吸烟", "抽烟", "禁烟"], ["smoking"]),
    ("CQ-HLTH-002", "非医师行医", "Practising medicine without a licence", "health", "HE",
     "《中华人民共和国医师法》第十三条、第五十九条", IND, "department", None, ["非法行医", "黑诊所", "游医"], ["unlicensed doctor"]),
    ("CQ-HLTH-003", "公共场所未取得卫生许可证经营", "Public venues without a hygiene licence", "health", "HE",
     "《公共场所卫生管理条例》第四条、第十四条第一款第四项", UNIT, "recovered", None, ["卫生许可", "理发店", "宾馆"], ["hygiene licence"]),
    ("CQ-HLTH-004", "医疗卫生机构未按规定收集、贮存、处置医疗废物", "Medical waste not collected, stored or disposed of as required",
     "health", "HE", "《医疗废物管理条例》第十六条、第四十六条", UNIT, "department", None, ["医疗废物", "针头", "医废"], ["medical waste"]),
    ("CQ-HLTH-005", "诊所未经备案执业", "Clinics practising without filing", "health", "HE",
     "《医疗机构管理条例》第十五条、第四十三条第一款", UNIT, "department", None, ["诊所", "备案"], ["clinic filing"]),
    ("CQ-HLTH-006", "生活饮用水供水单位供应的饮用水不符合国家卫生标准", "Drinking water below national hygiene standards",
     "health", "HE", "《中华人民共和国传染病防治法》第二十九条、第七十三条第一项", UNIT, "recovered", None, ["饮用水", "自来水"], ["drinking water"]),
    # -- Culture and tourism --
    ("CQ-CULT-001", "擅自从事互联网上网服务经营活动", "Running internet cafés without a licence", "culture_tourism", "CT",
     "《互联网上网服务营业场所管理条例》第七条、第二十七条", BOTH, "department", None, ["网吧", "黑网吧", "上网"], ["internet café"]),
    ("CQ-CULT-002", "未经许可从事娱乐场所经营活动", "Running entertainment venues without a licence", "culture_tourism", "CT",
     "《娱乐场所管理条例》第九条、第四十一条", BOTH, "department", None, ["娱乐场所", "歌厅", "KTV"], ["karaoke"]),
    ("CQ-CULT-003", "在文物保护单位保护范围内擅自进行建设工程或者爆破、钻探、挖掘", "Building or digging within protected cultural sites",
     "culture_tourism", "CT", "《中华人民共和国文物保护法》第十七条、第六十六条第一款第一项", BOTH, "department", None, ["文物", "古建筑", "保护范围"], ["heritage site"]),
    ("CQ-CULT-004", "互联网上网服务营业场所接纳未成年人", "Internet cafés admitting minors", "culture_tourism", "CT",
     "《互联网上网服务营业场所管理条例》第二十一条、第三十一条第二项", UNIT, "empowered", None, ["未成年人上网", "网吧"], ["minors in internet café"]),
    # -- Public order and other --
    ("CQ-PSEC-001", "在禁止燃放的时间、地点燃放烟花爆竹", "Setting off fireworks where or when banned", "public_order", "PS",
     "《烟花爆竹安全管理条例》第三十条、第四十二条第二款", IND, "department", None, ["放鞭炮", "燃放", "禁放区"], ["fireworks"]),
    ("CQ-EDU-001", "适龄儿童、少年的父母或者其他法定监护人无正当理由未依法送其入学接受义务教育", "Parents not sending children to compulsory schooling",
     "education", "ED", "《中华人民共和国义务教育法》第五条、第五十八条", IND, "statutory", None, ["辍学", "失学", "不送上学"], ["school dropout"]),
    ("CQ-CIVL-001", "在公墓和农村公益性墓地以外的其他地方埋葬遗体、建造坟墓", "Burials or tombs outside cemeteries", "civil_affairs", "CA",
     "《殡葬管理条例》第十条、第二十条", IND, "empowered", RURAL, ["乱埋乱葬", "坟墓", "私坟"], ["illegal tomb"]),
    ("CQ-TOBA-001", "无烟草专卖零售许可证经营烟草制品零售业务", "Selling tobacco without a retail licence", "market", "TB",
     "《中华人民共和国烟草专卖法实施条例》第十一条、第五十七条", BOTH, "department", None, ["卖烟", "无证卖烟"], ["unlicensed tobacco sales"]),
    ("CQ-HRSS-001", "用人单位违反规定招用未满十六周岁的未成年人", "Employing children under sixteen", "labour", "HR",
     "《禁止使用童工规定》第二条、第六条", UNIT, "department", None, ["童工"], ["child labour"]),
    # -- Optional items: department-held city-wide; the towns that take them up hold them there --
    ("CQ-OPT-001", "在城市人行道上违法停放非机动车", "Bicycles parked illegally on city pavements", "city_appearance", "PS",
     "《中华人民共和国道路交通安全法》第五十九条、第八十九条", IND, "optional", ["subdistrict", "town"], ["乱停放", "共享单车", "人行道"], ["bicycle parking"]),
    ("CQ-OPT-002", "未经批准从事城市生活垃圾经营性清扫、收集、运输", "Collecting municipal waste commercially without approval",
     "city_appearance", "UM", "《城市生活垃圾管理办法》第十七条、第四十四条", UNIT, "optional", None, ["垃圾清运", "收运许可"], ["waste collection licence"]),
    ("CQ-OPT-003", "在河道、湖泊管理范围内种植阻碍行洪的林木和高秆作物", "Planting trees or tall crops that obstruct flood flow in river zones",
     "water", "WR", "《中华人民共和国防洪法》第二十二条第二款、第五十五条第三项", IND, "optional", RURAL, ["河滩种植", "高秆作物"], ["crops in flood channel"]),
]


# Items with their own history: (district or *, holder type or "towns", authority, from, to, note).
HISTORIES = {
    "CQ-CITY-003": [
        ("*", "towns", "empowered", BASELINE, None, "Empowered to all towns and subdistricts in the January 2024 reform."),
        ("500103", "UM", "recovered", "2025-07-01T00:00:00+08:00", None,
         "Illustrative: recovered in 渝中区 under dynamic management (delegation and recovery)."),
    ],
    "CQ-CITY-005": [
        ("*", "towns", "empowered", BASELINE, "2027-01-01T00:00:00+08:00", "Empowered to all towns and subdistricts."),
        ("*", "UM", "recovered", "2027-01-01T00:00:00+08:00", None, "Illustrative future recovery to the urban management bureau."),
    ],
    "CQ-ENV-006": [
        ("*", "towns", "empowered", BASELINE, "2025-03-01T00:00:00+08:00", "Empowered to all towns and subdistricts."),
        ("*", "EE", "recovered", "2025-03-01T00:00:00+08:00", None, "Illustrative: recovered city-wide to the ecology and environment bureau."),
    ],
    "CQ-TRAN-001": [
        ("*", "towns", "delegated", BASELINE, "2025-01-01T00:00:00+08:00", "Delegated first; towns acted in the transport department's name."),
        ("*", "towns", "empowered", "2025-01-01T00:00:00+08:00", None, "Illustrative: empowered from 2025."),
    ],
}

NOTE = {
    "empowered": "Empowered to the towns and subdistricts (赋权) in the January 2024 reform.",
    "delegated": "Delegated to the towns (委托): they act in the department's name.",
    "statutory": "The town government's own statutory power (法定).",
    "department": "Held by the district department (部门执法); never handed to the towns.",
    "recovered": "Recovered (收回) to the district department in the January 2024 reform.",
    "prior": "Held by the towns before the reform (date illustrative).",
    "optional": "Optional item (可选事项): held by the department unless a town takes it up.",
    "taken_up": "Illustrative: this town took up the optional item.",
}


def department_types():
    out = []
    for code, zh, en, pzh, pen, county, vertical in DEPARTMENT_TYPES:
        entry = {"code": code, "names": {"zh": zh, "en": en}, "name_pattern": {"zh": pzh, "en": pen}}
        if vertical:
            entry["vertical"] = {"zh": vertical[0], "en": vertical[1]}
        out.append((entry, county))
    return out


def synthetic_name(rng, taken, kind):
    while True:
        (a, pa), (b, pb) = rng.sample(SYLLABLES, 2)
        zh = a + b + KINDS[kind][0]
        if zh not in taken:
            taken.add(zh)
            return zh, f"{pa}{pb.lower()} {KINDS[kind][1]}"


def towns_of(rng, district, seed_towns):
    """The district's towns: seed names first, then its functional-zone towns, then synthetic
    ones, numbered per kind (001.. 街道, 101.. 镇, 201.. 乡)."""
    code = district["code"]
    wanted = dict(zip(("subdistrict", "town", "township"), TOWN_COUNTS[code]))
    zone_of = {(d, zh): z for z, _, _, towns in ZONES for d, zh, _, _ in towns}
    named = [(t["names"], t["kind"], False) for t in seed_towns]
    have = {n["zh"] for n, _, _ in named}
    for zone, _, _, towns in ZONES:
        for d, zh, en, kind in towns:
            if d == code and zh not in have:
                named.append(({"zh": zh, "en": en}, kind, False))
                have.add(zh)
    by_kind = {k: [] for k in wanted}
    for names, kind, _ in named:
        by_kind[kind].append((names, False))
    taken = set(have)
    for kind, count in wanted.items():
        assert len(by_kind[kind]) <= count, f"{code}: more named {kind}s than its count"
        while len(by_kind[kind]) < count:
            zh, en = synthetic_name(rng, taken, kind)
            by_kind[kind].append(({"zh": zh, "en": en}, True))
    out = []
    for kind, entries in by_kind.items():
        first = KINDS[kind][2]
        for n, (names, synthetic) in enumerate(entries):
            town = {
                "code": f"{code}{first + n:03d}",
                "district": code,
                "names": names,
                "kind": kind,
                "illustrative": synthetic,
            }
            zone = zone_of.get((code, names["zh"]))
            if zone:
                town["managed_by"] = zone
            out.append(town)
    return out


def holder(kind):
    return {"kind": "towns"} if kind == "towns" else {"kind": "department", "department_type": kind}


def entry(district, kind, authority, start, end, note, town=None):
    h = {"district": district}
    if town:
        h["town"] = town
    h.update({"holder": holder(kind), "authority": authority, "effective_from": start, "effective_to": end, "note": note})
    return h


def items(rng, towns, seed_keywords):
    out = []
    body = {t["code"]: t.get("managed_by", t["district"]) for t in towns}
    for code, zh, en, category, dept, basis, subjects, authority, kinds, kw_zh, kw_en in CATALOGUE:
        if authority == "history":
            holders = [entry(d, k, a, f, t, n) for d, k, a, f, t, n in HISTORIES[code]]
        elif authority in ("empowered", "delegated", "statutory"):
            holders = [entry("*", "towns", authority, BASELINE, None, NOTE[authority])]
        elif authority == "recovered":
            holders = [entry("*", "towns", "empowered", PRIOR, BASELINE, NOTE["prior"]),
                       entry("*", dept, "recovered", BASELINE, None, NOTE["recovered"])]
        elif authority == "department":
            holders = [entry("*", dept, "department", BASELINE, None, NOTE["department"])]
        elif authority == "optional":
            holders = [entry("*", dept, "department", BASELINE, None, NOTE["optional"])]
            eligible = [t for t in towns if kinds is None or t["kind"] in kinds]
            for t in sorted(rng.sample(eligible, 12), key=lambda t: t["code"]):
                holders.append(entry(body[t["code"]], "towns", "empowered", BASELINE, None, NOTE["taken_up"], t["code"]))
        else:
            raise ValueError(f"{code}: unknown authority {authority}")
        item = {
            "code": code,
            "names": {"zh": zh, "en": en},
            "category": category,
            "legal_basis": basis,
            # Only the reform text's named items are from a public source as a whole; for the others
            # the offence and its legal basis are real, the assignment and dates illustrative.
            "illustrative": code not in {"CQ-FIRE-001", "CQ-FIRE-002", "CQ-CITY-001", "CQ-AGRI-001", "CQ-ENV-001"},
            # The seed's items keep the seed's keywords (the assist index was tuned on them).
            "keywords": seed_keywords.get(code) or {"zh": kw_zh, "en": kw_en},
            "subject_kinds": law.subject_kinds(code, subjects),
            "persuade_first": code in law.PERSUADE_FIRST,
            "department_type": dept,
            "holders": holders,
        }
        if kinds:
            item["town_kinds"] = kinds
        if law.statutory(code):
            item["statutory"] = law.statutory(code)
        elif code not in law.NO_FINE:
            raise ValueError(f"{code}: no statutory range and not in NO_FINE")
        out.append(item)
    names = [i["names"]["zh"] for i in out]
    assert len(names) == len(set(names)), "two items share a name"
    return out


def main():
    seed = json.loads(SEED.read_text())
    rng = random.Random(20240101)
    assert sum(sum(v) for v in TOWN_COUNTS.values()) == TOTAL_TOWNS, sum(sum(v) for v in TOWN_COUNTS.values())
    types = department_types()
    districts, towns = [], []
    for d in seed["districts"]:
        districts.append(d)
        towns += towns_of(rng, d, [t for t in seed["towns"] if t["district"] == d["code"]])
    for code, zh, en, _ in ZONES:
        districts.append({"code": code, "names": {"zh": zh, "en": en}, "kind": "functional_zone",
                          "illustrative": False, "department_types": ZONE_TYPES})
    # A county's police is the county's own bureau (城口县公安局), a district's a branch of the
    # municipal bureau (重庆市公安局渝中区分局).
    dept_types = []
    for t, county in types:
        if county:
            t["county_name_pattern"] = {"zh": county, "en": "{district} Public Security Bureau"}
        dept_types.append(t)
    keywords = {i["code"]: i.get("keywords") for i in seed["items"]}
    out_items = items(rng, towns, keywords)
    out = {
        "source_note": seed["source_note"],
        "department_types": dept_types,
        "districts": districts,
        "towns": towns,
        "items": out_items,
    }
    text = json.dumps(out, ensure_ascii=False, indent=1) + "\n"
    bench = json.dumps(law.benchmarks(), ensure_ascii=False, indent=1) + "\n"
    if "--check" in sys.argv:
        # The committed files must be exactly what the generator makes.
        for path, want in ((OUT, text), (BENCHMARKS, bench)):
            if path.read_text() != want:
                sys.exit(f"{path.name} is not what gen_registry.py generates: run it and commit the output")
        return
    OUT.write_text(text)
    BENCHMARKS.write_text(bench)
    auth = {}
    for i in out_items:
        city = [h for h in i["holders"] if h["district"] == "*"]
        a = max(city, key=lambda h: h["effective_from"])["authority"]
        auth[a] = auth.get(a, 0) + 1
    print(f"{len(seed['districts'])} districts + {len(ZONES)} zones, {len(towns)} towns, "
          f"{len(out_items)} items by city-wide authority now: {auth}")


if __name__ == "__main__":
    main()
