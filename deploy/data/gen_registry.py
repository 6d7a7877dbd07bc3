#!/usr/bin/env python3
"""Generates deploy/data/registry.json from the hand-curated registry-seed.json.

The seed holds what comes from public sources (the 38 districts, 166 real town and subdistrict
names, the seed's five named items) and a first set of hand-written items. This script scales it
to the reform's published shape: 1,031 towns and subdistricts, 24 department types per district
(plus the command centre: 25), and a catalogue with more than 107 empowered and 70 recovered items
plus statutory ones. Everything it adds is marked `illustrative: true` and says so in its note.

Deterministic (fixed seed): run `python3 deploy/data/gen_registry.py` and commit the output.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = HERE / "registry-seed.json"
OUT = HERE / "registry.json"

TOTAL_TOWNS = 1031
TARGET = {"empowered": 110, "recovered": 72, "statutory": 27, "delegated": 6}

# Department types added to the seed's 14 (generic names; illustrative). 14 + 10 = 24, plus the
# implicit command centre = 25 departments per district.
EXTRA_DEPARTMENT_TYPES = [
    ("ED", "教育委员会", "Education Commission"),
    ("CM", "商务委员会", "Commerce Commission"),
    ("CA", "民政局", "Civil Affairs Bureau"),
    ("HR", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("JU", "司法局", "Justice Bureau"),
    ("EI", "经济和信息化委员会", "Economy and Information Technology Commission"),
    ("SP", "体育局", "Sports Bureau"),
    ("MA", "医疗保障局", "Healthcare Security Administration"),
    ("TB", "烟草专卖局", "Tobacco Monopoly Bureau"),
    ("RE", "民族宗教事务委员会", "Ethnic and Religious Affairs Commission"),
]

# Illustrative weights: urban core districts have fewer, larger subdistricts; outer districts
# and counties more towns and townships. Not official counts.
URBAN_CORE = {"500103", "500104", "500105", "500106", "500107", "500108"}

SYLLABLES = [
    ("青", "Qing"), ("龙", "Long"), ("石", "Shi"), ("桥", "Qiao"), ("河", "He"), ("坝", "Ba"),
    ("山", "Shan"), ("溪", "Xi"), ("沙", "Sha"), ("新", "Xin"), ("安", "An"), ("平", "Ping"),
    ("兴", "Xing"), ("隆", "Long"), ("福", "Fu"), ("华", "Hua"), ("明", "Ming"), ("清", "Qing"),
    ("白", "Bai"), ("马", "Ma"), ("金", "Jin"), ("凤", "Feng"), ("云", "Yun"), ("松", "Song"),
    ("柏", "Bai"), ("竹", "Zhu"), ("岩", "Yan"), ("塘", "Tang"), ("湾", "Wan"), ("岭", "Ling"),
    ("田", "Tian"), ("家", "Jia"), ("元", "Yuan"), ("和", "He"), ("太", "Tai"), ("长", "Chang"),
]
KINDS = {
    "subdistrict": ("街道", "Subdistrict"),
    "town": ("镇", "Town"),
    "township": ("乡", "Township"),
}

# (category, code tag, department type, subjects, violations) for generated items.
TEMPLATES = [
    ("city_appearance", "CITY", "UM",
     [("户外广告设施", "outdoor advertising"), ("临街门店", "street-front shops"), ("建筑立面", "building facades"),
      ("城市道路", "city roads"), ("公共绿地", "public green space"), ("环卫设施", "sanitation facilities")],
     [("未经许可设置", "installed without a permit"), ("擅自占用或者损坏", "occupied or damaged without approval"),
      ("不按规定维护", "not maintained as required")]),
    ("environment", "ENV", "EE",
     [("餐饮油烟", "restaurant fumes"), ("建筑工地扬尘", "construction dust"), ("夜间施工噪声", "night-time construction noise"),
      ("露天焚烧", "open burning"), ("畜禽养殖废水", "livestock wastewater"), ("工业固体废物", "industrial solid waste")],
     [("未采取防治措施", "without control measures"), ("超标排放", "emitted above limits"),
      ("未按规定处置", "not disposed of as required")]),
    ("market", "MKT", "MS",
     [("农贸市场计量器具", "market weighing devices"), ("食品小作坊", "small food workshops"), ("小餐饮", "small eateries"),
      ("明码标价", "price labelling"), ("网络餐饮", "online food delivery"), ("特种设备", "special equipment")],
     [("未按规定登记", "not registered as required"), ("违反管理规定", "in breach of management rules"),
      ("未履行检查义务", "without the required inspection")]),
    ("agriculture_fishery", "AGRI", "AR",
     [("农药经营", "pesticide sales"), ("兽药使用", "veterinary drug use"), ("种子销售", "seed sales"),
      ("动物防疫", "animal epidemic prevention"), ("耕地", "farmland"), ("渔业捕捞", "fishing")],
     [("未按规定记录", "without required records"), ("违反禁止性规定", "in breach of prohibitions"),
      ("擅自改变用途", "use changed without approval")]),
    ("construction", "CONS", "HC",
     [("农村自建房", "rural self-built houses"), ("物业服务", "property management services"), ("房屋装修", "home renovation"),
      ("建筑垃圾", "construction waste"), ("燃气设施", "gas installations"), ("施工围挡", "site hoardings")],
     [("未经批准施工", "built without approval"), ("违反安全规定", "in breach of safety rules"),
      ("未按规定清运", "not removed as required")]),
    ("natural_resources", "NRES", "PN",
     [("临时用地", "temporary land use"), ("采砂采石", "sand and stone quarrying"), ("林木采伐", "tree felling"),
      ("地质灾害隐患点", "geological hazard sites"), ("测量标志", "survey markers"), ("宅基地", "homestead land")],
     [("擅自占用", "occupied without approval"), ("超范围开采", "worked beyond the permitted area"),
      ("未按规定保护", "not protected as required")]),
    ("transport", "TRAN", "TR",
     [("农村公路路产", "rural road assets"), ("非法营运车辆", "unlicensed passenger vehicles"), ("渡口渡船", "ferry crossings"),
      ("公路建筑控制区", "road building-control zones"), ("客运站点", "passenger stations"), ("超限运输", "overloaded transport")],
     [("擅自占用或者挖掘", "occupied or dug up without approval"), ("无证经营", "operated without a licence"),
      ("违反安全管理规定", "in breach of safety management rules")]),
    ("water", "WATR", "WR",
     [("河道管理范围", "river management zones"), ("水库", "reservoirs"), ("取水", "water abstraction"),
      ("水土保持", "soil and water conservation"), ("堤防", "levees"), ("农村供水工程", "rural water supply works")],
     [("擅自建设或者倾倒", "built on or dumped in without approval"), ("未经许可", "without a permit"),
      ("未落实防治措施", "without the required measures")]),
    ("culture_tourism", "CULT", "CT",
     [("网吧", "internet cafés"), ("歌舞娱乐场所", "karaoke and dance venues"), ("旅游景区", "tourist sites"),
      ("不可移动文物", "immovable cultural relics"), ("演出活动", "performances"), ("出版物经营", "publication sales")],
     [("接纳未成年人或者超时经营", "admitting minors or opening beyond hours"), ("未经批准", "without approval"),
      ("违反安全规定", "in breach of safety rules")]),
    ("safety_production", "SAFE", "EM",
     [("小型危化品经营点", "small hazardous-chemical outlets"), ("烟花爆竹零售点", "fireworks retailers"),
      ("有限空间作业", "confined-space work"), ("小微企业", "small enterprises"), ("加油站", "filling stations"),
      ("人员密集场所", "crowded venues")],
     [("未落实安全措施", "without safety measures"), ("违规储存", "storing in breach of rules"),
      ("未开展隐患排查", "without hazard inspections")]),
    ("health", "HLTH", "HE",
     [("公共场所卫生", "public-place hygiene"), ("生活饮用水", "drinking water supply"), ("诊所", "clinics"),
      ("医疗废物", "medical waste"), ("控烟", "smoking control"), ("消毒产品", "disinfection products")],
     [("未取得卫生许可", "without a hygiene licence"), ("违反管理规定", "in breach of management rules"),
      ("未按规定处置", "not handled as required")]),
    ("fire_safety", "FIRE", "FR",
     [("电动自行车充电", "e-bike charging"), ("沿街商铺消防", "street-shop fire safety"), ("群租房消防", "crowded rental fire safety"),
      ("九小场所", "small-premises fire safety"), ("高层建筑消防", "high-rise fire safety"), ("消防车通道标识", "fire-lane markings")],
     [("违规设置", "set up in breach of rules"), ("未落实防火措施", "without fire precautions"),
      ("占用或者遮挡", "occupied or obstructed")]),
]

AUTHORITY_NOTE = {
    "empowered": "Empowered to all towns and subdistricts (illustrative).",
    "delegated": "Delegated to towns, which act in the department's name (illustrative).",
    "recovered": "Specialised item recovered to the district department (illustrative).",
    "statutory": "Held by the department by law (illustrative).",
}
BASELINE = "2024-01-01T00:00:00+08:00"


def town_counts(districts, existing):
    weights = {}
    for d in districts:
        code = d["code"]
        weights[code] = 1.0 if code in URBAN_CORE else (1.6 if d["kind"] == "district" else 1.3)
    total_w = sum(weights.values())
    counts = {c: max(existing[c], round(TOTAL_TOWNS * w / total_w)) for c, w in weights.items()}
    codes = sorted(counts)
    i = 0
    while sum(counts.values()) != TOTAL_TOWNS:
        c = codes[i % len(codes)]
        if sum(counts.values()) < TOTAL_TOWNS:
            counts[c] += 1
        elif counts[c] > existing[c]:
            counts[c] -= 1
        i += 1
    return counts


def synthetic_towns(rng, district, have, count):
    names_taken = {t["names"]["zh"] for t in have}
    out = []
    n = len(have)
    while len(have) + len(out) < count:
        n += 1
        kind = "subdistrict" if district["code"] in URBAN_CORE else rng.choice(["town", "town", "township", "subdistrict"])
        while True:
            (a, pa), (b, pb) = rng.sample(SYLLABLES, 2)
            zh = a + b + KINDS[kind][0]
            if zh not in names_taken:
                names_taken.add(zh)
                break
        out.append({
            "code": f"{district['code']}{n:03d}",
            "district": district["code"],
            "names": {"zh": zh, "en": f"{pa}{pb.lower()} {KINDS[kind][1]}"},
            "kind": kind,
            "illustrative": True,
        })
    return out


def default_authority(item):
    city = [h for h in item["holders"] if h["district"] == "*"]
    return max(city, key=lambda h: h["effective_from"])["authority"] if city else None


def generated_items(rng, items, district_codes):
    have = {}
    for i in items:
        a = default_authority(i)
        have[a] = have.get(a, 0) + 1
    next_no = {}
    for i in items:
        tag, no = i["code"].rsplit("-", 1)
        next_no[tag] = max(next_no.get(tag, 0), int(no))
    combos = [(t, s, v) for t in TEMPLATES for s in t[3] for v in t[4]]
    rng.shuffle(combos)
    out = []
    plan = []
    for authority, target in TARGET.items():
        plan += [authority] * max(0, target - have.get(authority, 0))
    for n, authority in enumerate(plan):
        (category, tag, dept, _, _), (szh, sen), (vzh, ven) = combos[n]
        full_tag = f"CQ-{tag}"
        next_no[full_tag] = next_no.get(full_tag, 0) + 1
        code = f"{full_tag}-{next_no[full_tag]:03d}"
        holder = {"kind": "towns"} if authority in ("empowered", "delegated") else {"kind": "department", "department_type": dept}
        holders = [{
            "district": "*", "holder": holder, "authority": authority,
            "effective_from": BASELINE, "effective_to": None,
            "note": f"Generated illustrative item. {AUTHORITY_NOTE[authority]}",
        }]
        # Dynamic management: some empowered items have been recovered in one district since
        # 2025-07-01, and a few recoveries are dated in the future.
        if authority == "empowered" and n % 9 == 0:
            d = district_codes[n % len(district_codes)]
            future = n % 27 == 0
            holders.append({
                "district": d, "holder": {"kind": "department", "department_type": dept}, "authority": "recovered",
                "effective_from": "2027-01-01T00:00:00+08:00" if future else "2025-07-01T00:00:00+08:00",
                "effective_to": None,
                "note": "Illustrative district recovery under dynamic management (delegation and recovery).",
            })
        out.append({
            "code": code,
            "names": {"zh": f"{szh}{vzh}", "en": f"{sen[0].upper()}{sen[1:]} {ven}"},
            "category": category,
            "legal_basis": "示例（illustrative）：相关法律法规及《重庆市乡镇（街道）综合行政执法事项目录》，条款待核",
            "illustrative": True,
            "keywords": {"zh": [szh], "en": [sen]},
            "holders": holders,
        })
    return out


def main():
    seed = json.loads(SEED.read_text())
    rng = random.Random(20240101)
    dept_types = list(seed["department_types"])
    known = {t["code"] for t in dept_types}
    for code, zh, en in EXTRA_DEPARTMENT_TYPES:
        if code not in known:
            dept_types.append({"code": code, "names": {"zh": zh, "en": en}})
    existing = {d["code"]: 0 for d in seed["districts"]}
    for t in seed["towns"]:
        existing[t["district"]] += 1
    counts = town_counts(seed["districts"], existing)
    towns = []
    for d in seed["districts"]:
        have = [t for t in seed["towns"] if t["district"] == d["code"]]
        towns += have + synthetic_towns(rng, d, have, counts[d["code"]])
    items = list(seed["items"])
    items += generated_items(rng, items, [d["code"] for d in seed["districts"]])
    out = {
        "source_note": seed["source_note"]
        + " Generated by deploy/data/gen_registry.py from registry-seed.json: every town, department type"
        " and item it adds is illustrative (synthetic names, codes, dates and legal references).",
        "department_types": dept_types,
        "districts": seed["districts"],
        "towns": towns,
        "items": items,
    }
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    auth = {}
    for i in items:
        a = default_authority(i)
        auth[a] = auth.get(a, 0) + 1
    print(f"{len(seed['districts'])} districts, {len(towns)} towns, {len(dept_types) + 1} departments per district, "
          f"{len(items)} items by city-wide authority: {auth}")


if __name__ == "__main__":
    main()
