"""Statutory penalty ranges per item and subject kind, and the discretion benchmarks built inside them.

Imported by gen_registry.py, which writes the ranges into registry.json (`items[].statutory`) and
the benchmarks into assist/benchmarks.json, so the two files cannot disagree (the Rust loader
checks it again).

STATUTORY maps an item code to (individual, unit, illustrative, note); a kind's range is
(warning, min_yuan, max_yuan): `warning` whether a warning on its own is a lawful penalty,
`min_yuan` 0 for "at most max_yuan" (……元以下). `illustrative: False` means the range is the cited
article's text as we read it (check it against the current text before real use); `True` means the
cited article names no amount, the amount depends on a value (货值, 违法所得, 工程造价, area) or we are
not sure of it — then the note says which. Items whose article names no fine and no warning (an
order to correct, return or demolish only) are in NO_FINE and carry no range and no benchmark.
"""

W, F = True, False

# code: (individual, unit, illustrative, note)
STATUTORY = {
    # -- Fire Protection Law art. 60: a unit 5,000-50,000; an individual a warning or at most 500 (second paragraph) --
    "CQ-FIRE-001": ((W, 0, 500), (F, 5000, 50000), False, "《消防法》第六十条：单位处五千元以上五万元以下罚款；个人处警告或者五百元以下罚款。"),
    "CQ-FIRE-002": ((W, 0, 500), (F, 5000, 50000), False, "《消防法》第六十条：单位处五千元以上五万元以下罚款；个人处警告或者五百元以下罚款。"),
    "CQ-FIRE-005": ((W, 0, 500), (F, 5000, 50000), False, "《消防法》第六十条：单位处五千元以上五万元以下罚款；个人处警告或者五百元以下罚款。"),
    "CQ-FIRE-006": (None, (F, 5000, 50000), False, "《消防法》第六十条第一款第六项：单位处五千元以上五万元以下罚款。"),
    "CQ-FIRE-004": (None, (F, 30000, 300000), False, "《消防法》第五十八条：并处三万元以上三十万元以下罚款。"),
    "CQ-FIRE-007": ((F, 5000, 50000), (F, 5000, 50000), False, "《消防法》第六十一条第一款：责令停产停业，并处五千元以上五万元以下罚款。"),
    "CQ-FIRE-003": ((F, 0, 500), None, False,
                    "《高层民用建筑消防安全管理规定》第四十七条：对非经营性单位和个人处500元以下罚款（经营性单位和个人1000元以上10000元以下，未列入）。"),
    # -- Yangtze River Protection Law art. 86 --
    "CQ-AGRI-001": ((F, 10000, 500000), None, False,
                    "《长江保护法》第八十六条：重点水域禁捕期间生产性捕捞，并处一万元以上五万元以下罚款；电鱼、毒鱼、炸鱼等或者有其他严重情节的，并处五万元以上五十万元以下罚款。"
                    "垂钓违反地方管理规定而非生产性捕捞的，按地方规定处理，不在此范围。"),
    "CQ-AGRI-005": ((F, 0, 50000), None, False,
                    "《渔业法》第三十八条第一款：处五万元以下的罚款（长江重点水域禁捕期内适用《长江保护法》第八十六条）。"),
    # -- City appearance: the national regulation names the penalty but no amount --
    "CQ-CITY-001": ((F, 0, 500), None, True,
                    "ILLUSTRATIVE amount: 《城市市容和环境卫生管理条例》第三十六条只规定“并可处以罚款”，数额由重庆市地方性法规（《重庆市市容环境卫生管理条例》）规定，此处未核对原文。"),
    "CQ-CITY-002": ((W, 0, 200), None, True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-003": ((F, 0, 2000), (F, 0, 20000), True, "ILLUSTRATIVE amount: 第三十六条规定“并可处以罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-004": ((W, 0, 500), (W, 0, 5000), True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-006": ((F, 0, 5000), (F, 0, 50000), True, "ILLUSTRATIVE amount: 《城市绿化条例》第二十六条规定“可以并处罚款”，未规定数额。"),
    "CQ-CITY-007": ((W, 0, 200), (W, 0, 2000), True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-008": ((W, 0, 200), (F, 0, 50000), True,
                    "ILLUSTRATIVE amount: 分类投放的罚款由《重庆市生活垃圾管理条例》规定，此处未核对原文。"),
    "CQ-CITY-009": ((W, 0, 500), None, True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-010": ((W, 0, 2000), (W, 0, 20000), True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-011": ((W, 0, 200), None, True, "ILLUSTRATIVE amount: 第三十四条规定“可以并处警告、罚款”，数额由地方规定，未核对。"),
    "CQ-CITY-012": ((F, 0, 5000), (F, 0, 50000), True, "ILLUSTRATIVE amount: 《城市绿化条例》第二十七条规定“可以并处罚款”，未规定数额。"),
    "CQ-CITY-013": ((F, 0, 5000), (F, 0, 50000), True, "ILLUSTRATIVE amount: 《城市绿化条例》第二十六条规定“可以并处罚款”，未规定数额（按树木价值的地方规定未核对）。"),
    "CQ-CITY-014": ((F, 0, 20000), (F, 0, 20000), False, "《城市道路管理条例》第四十二条：可以处以2万元以下的罚款。"),
    "CQ-CITY-015": (None, (F, 0, 20000), False, "《城市道路管理条例》第四十二条：可以处以2万元以下的罚款。"),
    "CQ-CITY-016": ((F, 0, 20000), (F, 0, 20000), False, "《城市道路管理条例》第四十二条（违反第二十七条）：可以处以2万元以下的罚款。"),
    "CQ-CITY-017": ((F, 0, 2000), (F, 0, 20000), True, "ILLUSTRATIVE amount: 第三十六条规定“并可处以罚款”，数额由地方规定，未核对。"),
    # -- Solid Waste Law art. 111, second paragraph --
    "CQ-CITY-005": (None, (F, 100000, 1000000), False,
                    "《固体废物污染环境防治法》第一百一十一条第二款：单位有第一款第四项行为的，处十万元以上一百万元以下的罚款（该项只涉及工程施工单位）。"),
    "CQ-CITY-018": (None, (F, 100000, 1000000), False,
                    "《固体废物污染环境防治法》第一百一十一条第二款：单位有第一款第五项行为的，处十万元以上一百万元以下的罚款。"),
    "CQ-ENV-001": (None, (F, 100000, 1000000), True,
                   "ILLUSTRATIVE cap: 《固体废物污染环境防治法》第一百一十二条：多数情形处十万元以上一百万元以下罚款；擅自倾倒、堆放危险废物的，处所需处置费用三倍以上五倍以下罚款（不足二十万元按二十万元计），可超出此上限。"),
    "CQ-ENV-015": (None, (F, 50000, 200000), True, "ILLUSTRATIVE: 《固体废物污染环境防治法》第一百零二条第二款中第一款第七项的数额，我们未能确认。"),
    # -- Noise Law --
    "CQ-ENV-002": (None, (F, 10000, 100000), False, "《噪声污染防治法》第七十七条：处一万元以上十万元以下的罚款。"),
    "CQ-ENV-011": (None, (F, 5000, 200000), True,
                   "ILLUSTRATIVE: 我们按《噪声污染防治法》第八十一条理解：超标排放社会生活噪声处五千元以上五万元以下，拒不改正的处五万元以上二十万元以下；条文编号与数据所引第八十七条不同，未核对。"),
    "CQ-ENV-012": ((W, 200, 1000), (W, 2000, 20000), False,
                   "《噪声污染防治法》第八十七条：说服教育，责令改正；拒不改正的，给予警告，对个人可以处二百元以上一千元以下的罚款，对单位可以处二千元以上二万元以下的罚款。"),
    # -- Air Pollution Law --
    "CQ-ENV-003": ((F, 500, 2000), (F, 500, 2000), False, "《大气污染防治法》第一百一十九条第一款：可以处五百元以上二千元以下的罚款。"),
    "CQ-ENV-004": ((F, 500, 2000), (F, 10000, 100000), False,
                   "《大气污染防治法》第一百一十九条第二款：对单位处一万元以上十万元以下的罚款，对个人处五百元以上二千元以下的罚款。"),
    "CQ-ENV-005": ((F, 500, 20000), (F, 500, 20000), False, "《大气污染防治法》第一百一十八条第三款：并处五百元以上二万元以下的罚款。"),
    "CQ-ENV-006": (None, (F, 5000, 50000), False, "《大气污染防治法》第一百一十八条第一款：处五千元以上五万元以下的罚款。"),
    "CQ-ENV-009": (None, (F, 10000, 100000), False, "《大气污染防治法》第一百一十八条第二款：拒不改正的，予以关闭，并处一万元以上十万元以下的罚款。"),
    "CQ-ENV-008": (None, (F, 100000, 1000000), False, "《大气污染防治法》第九十九条：处十万元以上一百万元以下的罚款。"),
    "CQ-ENV-010": (None, (F, 10000, 100000), False, "《大气污染防治法》第一百一十五条第一款：处一万元以上十万元以下的罚款。"),
    "CQ-ENV-007": (None, (F, 100000, 1000000), False, "《水污染防治法》第八十三条：处十万元以上一百万元以下的罚款。"),
    "CQ-ENV-013": (None, (F, 0, 100000), True, "ILLUSTRATIVE: 我们按《畜禽规模养殖污染防治条例》第三十九条理解为“可以处10万元以下的罚款”，未核对。"),
    "CQ-ENV-014": ((F, 30000, 100000), (F, 30000, 100000), True,
                   "ILLUSTRATIVE: 我们按《畜禽规模养殖污染防治条例》第三十七条理解：拒不停止违法行为的，处3万元以上10万元以下的罚款，未核对。"),
    # -- Water --
    "CQ-WATR-001": ((W, 0, 5000), (W, 0, 50000), True, "ILLUSTRATIVE amount: 《河道管理条例》第四十四条规定“可以并处警告、罚款”，未规定数额。"),
    "CQ-WATR-002": ((F, 200000, 2000000), (F, 200000, 2000000), False,
                    "《长江保护法》第九十一条：货值金额不足十万元的，并处二十万元以上二百万元以下罚款；货值金额十万元以上的，并处货值金额二倍以上二十倍以下罚款（可超出此上限）。"),
    "CQ-WATR-003": ((F, 10000, 100000), (F, 10000, 100000), False, "《水法》第六十五条第一款：并处一万元以上十万元以下的罚款。"),
    "CQ-WATR-004": ((F, 10000, 50000), (F, 10000, 50000), False, "《水法》第七十二条：处一万元以上五万元以下的罚款（条文中为第二项）。"),
    "CQ-WATR-005": ((F, 1000, 10000), (F, 20000, 200000), False,
                    "《水土保持法》第四十八条：对个人处一千元以上一万元以下的罚款，对单位处二万元以上二十万元以下的罚款。"),
    "CQ-OPT-003": ((F, 0, 50000), None, False, "《防洪法》第五十五条：可以处五万元以下的罚款。"),
    # -- Agriculture --
    "CQ-AGRI-003": ((F, 3000, 100000), (F, 3000, 100000), True,
                    "ILLUSTRATIVE: 我们按《动物防疫法》第九十八条理解：处三千元以上三万元以下罚款；情节严重的，并处三万元以上十万元以下罚款，项次未核对。"),
    "CQ-AGRI-004": ((F, 0, 10000), (F, 50000, 100000), True,
                    "ILLUSTRATIVE for selling: 《农药管理条例》第六十条（使用者）：单位处5万元以上10万元以下罚款，个人处1万元以下罚款；经营禁用农药按第五十五条以货值计，不在此范围。"),
    "CQ-AGRI-006": ((F, 0, 10000), (F, 50000, 100000), False,
                    "《农药管理条例》第六十条：农药使用者为单位的，处5万元以上10万元以下罚款；为个人的，处1万元以下罚款。"),
    "CQ-AGRI-007": ((F, 0, 10000), (F, 0, 10000), True,
                    "ILLUSTRATIVE cap: 《动物防疫法》第一百条：处同类检疫合格动物、动物产品货值金额一倍以下罚款，上限随货值而定。"),
    "CQ-AGRI-008": (None, (F, 10000, 200000), True,
                    "ILLUSTRATIVE: 《种子法》第七十四条、第七十五条：货值金额不足二万元的，假种子并处二万元以上二十万元以下、劣种子并处一万元以上十万元以下罚款；货值更高的按倍数计。"),
    # -- Transport --
    "CQ-TRAN-001": ((F, 0, 5000), (F, 0, 5000), False, "《公路法》第七十七条：可以处五千元以下的罚款。"),
    "CQ-TRAN-002": ((F, 0, 30000), (F, 0, 30000), False, "《公路安全保护条例》第六十四条：可以处3万元以下的罚款。"),
    "CQ-TRAN-003": ((F, 10000, 100000), (F, 10000, 100000), True,
                    "ILLUSTRATIVE: 《道路运输条例》第六十三条：违法所得不足2万元的，处1万元以上10万元以下的罚款；超过2万元的，处违法所得2倍以上10倍以下的罚款。"),
    "CQ-TRAN-004": ((F, 0, 50000), (F, 0, 50000), False, "《公路法》第八十一条：并可以处五万元以下的罚款。"),
    "CQ-TRAN-005": ((F, 0, 30000), (F, 0, 30000), False, "《公路法》第七十六条：可以处三万元以下的罚款。"),
    # -- Construction --
    "CQ-CONS-002": (None, (F, 0, 200000), True,
                    "ILLUSTRATIVE: 《建设工程安全生产管理条例》第六十二条依照《安全生产法》处以罚款；此处按其处十万元以下、逾期未改正十万元以上二十万元以下计。"),
    "CQ-CONS-003": (None, (F, 0, 30000), True,
                    "ILLUSTRATIVE: 《建筑法》第六十四条“可以处以罚款”；《建筑工程施工许可管理办法》对施工单位处3万元以下罚款（对建设单位按合同价款1%至2%）。"),
    "CQ-CONS-004": ((F, 0, 500000), (F, 0, 500000), True,
                    "ILLUSTRATIVE cap: 《城乡规划法》第六十四条：处建设工程造价百分之五以上百分之十以下的罚款，数额随造价而定。"),
    "CQ-CONS-005": ((F, 50000, 100000), (F, 50000, 100000), True,
                    "ILLUSTRATIVE: 擅自变动房屋建筑主体和承重结构的，我们按《建设工程质量管理条例》第六十九条理解为处5万元以上10万元以下的罚款（数据所引《住宅室内装饰装修管理办法》第三十八条另有规定）。"),
    "CQ-CONS-006": (None, (W, 0, 100000), True, "ILLUSTRATIVE cap: 《物业管理条例》第六十三条：给予警告，可以并处挪用数额2倍以下的罚款，上限随数额而定。"),
    "CQ-CONS-007": ((W, 1000, 10000), (W, 50000, 200000), True,
                    "ILLUSTRATIVE: 我们按《物业管理条例》理解：给予警告；个人处1000元以上1万元以下的罚款，单位处5万元以上20万元以下的罚款，条文编号未核对。"),
    # -- Natural resources --
    "CQ-NRES-001": ((F, 0, 100000), (F, 0, 500000), True, "ILLUSTRATIVE cap: 《矿产资源法》第三十九条“可以并处罚款”，实施细则按违法所得的比例计，上限随所得而定。"),
    "CQ-NRES-002": ((F, 0, 100000), (F, 0, 1000000), True,
                    "ILLUSTRATIVE cap: 《土地管理法》第七十七条“可以并处罚款”，实施条例按非法占用土地每平方米计，上限随面积而定。"),
    "CQ-NRES-003": ((F, 10000, 100000), (F, 10000, 100000), True,
                    "ILLUSTRATIVE: 《野生动物保护法》：没有猎获物或者猎获物价值不足五千元的，并处一万元以上十万元以下罚款；否则按价值倍数计，条文编号未核对。"),
    "CQ-NRES-004": ((F, 0, 100000), (F, 0, 500000), True, "ILLUSTRATIVE cap: 《森林法》第七十三条、第七十四条按林木价值或者林地面积计罚，上限随之而定。"),
    "CQ-NRES-005": ((F, 200, 3000), (F, 10000, 50000), False,
                    "《森林防火条例》第五十条：给予警告，对个人并处200元以上3000元以下罚款，对单位并处1万元以上5万元以下罚款（警告须并处罚款，不能单处警告）。"),
    "CQ-NRES-006": ((W, 0, 200000), (W, 0, 200000), False, "《测绘法》第六十四条：给予警告，责令改正，可以并处二十万元以下的罚款。"),
    "CQ-NRES-007": ((F, 0, 50000), (F, 0, 200000), True, "ILLUSTRATIVE cap: 实施条例按土地复垦费的倍数计罚，上限随费用而定。"),
    # -- Market --
    "CQ-MKT-001": ((F, 0, 1000), None, True, "ILLUSTRATIVE amount: 食品摊贩未登记的罚款由《重庆市食品生产加工小作坊和食品摊贩管理条例》规定，此处未核对原文。"),
    "CQ-MKT-002": (None, (F, 50000, 100000), False,
                   "《食品安全法》第一百二十二条：货值金额不足一万元的，并处五万元以上十万元以下罚款；货值金额一万元以上的，并处货值金额十倍以上二十倍以下罚款（可超出此上限）。"),
    "CQ-MKT-003": ((F, 50000, 100000), (F, 50000, 100000), False,
                   "《食品安全法》第一百二十二条：货值金额不足一万元的，并处五万元以上十万元以下罚款；货值金额一万元以上的，按货值倍数计（可超出此上限）。"),
    "CQ-MKT-004": ((F, 50000, 100000), (F, 50000, 100000), False,
                   "《食品安全法》第一百二十四条：货值金额不足一万元的，并处五万元以上十万元以下罚款；货值金额一万元以上的，按货值倍数计（可超出此上限）。"),
    "CQ-MKT-005": ((F, 0, 5000), (F, 0, 5000), False, "《价格法》第四十二条：可以并处五千元以下的罚款。"),
    "CQ-MKT-006": ((F, 0, 1000), (F, 0, 1000), False, "《计量法实施细则》第四十三条：责令其停止使用，可并处一千元以下的罚款。"),
    "CQ-MKT-007": ((F, 0, 10000), (F, 0, 10000), False,
                   "《无证无照经营查处办法》第十三条：法律、行政法规没有明确规定的，并处1万元以下的罚款。"),
    "CQ-TOBA-001": ((F, 0, 50000), (F, 0, 500000), True,
                    "ILLUSTRATIVE cap: 《烟草专卖法实施条例》第五十七条：并处违法经营总额20%以上50%以下的罚款，上限随经营额而定。"),
    # -- Safety production --
    "CQ-SAFE-001": (None, (F, 50000, 100000), False, "《危险化学品安全管理条例》第八十条：处5万元以上10万元以下的罚款。"),
    "CQ-SAFE-002": ((F, 20000, 100000), (F, 20000, 100000), False, "《烟花爆竹安全管理条例》第三十六条第一款：处2万元以上10万元以下的罚款。"),
    "CQ-SAFE-003": (None, (F, 30000, 300000), False, "《特种设备安全法》第八十四条：处三万元以上三十万元以下罚款。"),
    "CQ-SAFE-004": (None, (F, 0, 200000), False,
                    "《安全生产法》第九十七条：处十万元以下的罚款；逾期未改正的，责令停产停业整顿，并处十万元以上二十万元以下的罚款。"),
    "CQ-SAFE-005": (None, (F, 0, 100000), True,
                    "ILLUSTRATIVE: 隐患排查治理情况未如实记录，我们按《安全生产法》第一百零一条理解为处十万元以下的罚款（数据所引为第一百零二条），未核对。"),
    "CQ-SAFE-006": (None, (F, 0, 50000), False, "《安全生产法》第一百零五条：处五万元以下的罚款。"),
    # -- Health --
    "CQ-HLTH-001": ((F, 0, 200), None, True, "ILLUSTRATIVE amount: 个人在禁烟场所吸烟的罚款由《重庆市公共场所控制吸烟条例》规定，此处未核对原文。"),
    "CQ-HLTH-002": ((F, 20000, 100000), None, False,
                    "《医师法》第五十九条：并处违法所得二倍以上十倍以下的罚款，违法所得不足一万元的，按一万元计算（违法所得更高时可超出此上限）。"),
    "CQ-HLTH-003": (None, (F, 500, 30000), True,
                    "ILLUSTRATIVE: 我们按《公共场所卫生管理条例实施细则》理解：给予警告，并处以五百元以上五千元以下罚款；情节较重的五千元以上三万元以下，未核对。"),
    "CQ-HLTH-004": (None, (W, 0, 30000), True,
                    "ILLUSTRATIVE: 我们按《医疗废物管理条例》第四十六条理解：给予警告，可以并处5000元以下的罚款；逾期不改正的，处5000元以上3万元以下的罚款，未核对。"),
    "CQ-HLTH-005": (None, (F, 0, 30000), False, "《医疗机构管理条例》第四十三条：诊所未经备案执业的，并处3万元以下罚款。"),
    "CQ-HLTH-006": (None, (F, 0, 50000), False, "《传染病防治法》（2013年修正）第七十三条：可以并处五万元以下的罚款。"),
    # -- Culture --
    "CQ-CULT-001": ((F, 10000, 50000), (F, 10000, 50000), False,
                    "《互联网上网服务营业场所管理条例》第二十七条：违法经营额不足1万元的，并处1万元以上5万元以下的罚款；1万元以上的，并处违法经营额5倍以上10倍以下的罚款（可超出此上限）。"),
    "CQ-CULT-003": ((F, 50000, 500000), (F, 50000, 500000), True,
                    "ILLUSTRATIVE: 《文物保护法》（2017年修正）第六十六条：造成严重后果的，处五万元以上五十万元以下的罚款；未造成严重后果的只责令改正。2024年修订后条文编号有变。"),
    "CQ-CULT-004": (None, (W, 0, 15000), False, "《互联网上网服务营业场所管理条例》第三十一条：给予警告，可以并处15000元以下的罚款。"),
    # -- Public order, labour --
    "CQ-PSEC-001": ((F, 100, 500), None, False, "《烟花爆竹安全管理条例》第四十二条第二款：处100元以上500元以下的罚款。"),
    "CQ-HRSS-001": (None, (F, 5000, 500000), True, "ILLUSTRATIVE cap: 《禁止使用童工规定》第六条：每使用一名童工每月处5000元罚款，总额随人数、月数而定。"),
    "CQ-OPT-001": ((W, 5, 50), None, False, "《道路交通安全法》第八十九条：处警告或者五元以上五十元以下罚款。"),
    "CQ-OPT-002": (None, (F, 30000, 30000), False, "《城市生活垃圾管理办法》第四十四条：并处以3万元的罚款。"),
}

# The cited article orders a correction, the return of land or demolition, and names no fine and
# no warning: no statutory range, no benchmark.
NO_FINE = {
    "CQ-AGRI-002": "《土地管理法》第七十八条：责令退还非法占用的土地，限期拆除新建的房屋；无罚款。",
    "CQ-CONS-001": "《城乡规划法》第六十五条：责令停止建设、限期改正；逾期不改正的，可以拆除；无罚款。",
    "CQ-EDU-001": "《义务教育法》第五十八条：批评教育，责令限期改正；无罚款。",
    "CQ-CIVL-001": "《殡葬管理条例》第二十条：责令限期改正；无罚款。",
    "CQ-CULT-002": "《娱乐场所管理条例》第四十一条：依法予以取缔（我们读到的条文未规定罚款，未核对）。",
}

# Persuade first (劝导在先): the three items the reform text names as those towns could only
# persuade before the reform (vendors occupying roads, debris blocking fire exits, illegal fishing
# along riverbanks). The same flag goes to registry.json and assist/benchmarks.json.
PERSUADE_FIRST = {"CQ-CITY-001", "CQ-FIRE-002", "CQ-AGRI-001"}

# Hand-set tier ranges where the law itself splits the range (the generic split below would mix
# its sub-ranges): code -> kind -> tier -> (min, max).
TIER_RANGES = {
    # Art. 86: 10,000-50,000; electric, poison or explosive fishing or other serious circumstances 50,000-500,000.
    "CQ-AGRI-001": {"individual": {"ordinary": (10000, 20000), "repeat_offence": (20000, 50000),
                                   "serious_consequences": (50000, 500000)}},
    # Art. 81 as we read it: 5,000-50,000; refusing to correct 50,000-200,000.
    "CQ-ENV-011": {"unit": {"ordinary": (5000, 20000), "repeat_offence": (20000, 50000),
                            "serious_consequences": (50000, 200000)}},
    # Art. 97: at most 100,000; not corrected in time 100,000-200,000.
    "CQ-SAFE-004": {"unit": {"ordinary": (1, 30000), "repeat_offence": (30000, 100000),
                             "serious_consequences": (100000, 200000)}},
    "CQ-CONS-002": {"unit": {"ordinary": (1, 30000), "repeat_offence": (30000, 100000),
                             "serious_consequences": (100000, 200000)}},
    # Art. 98 as we read it: 3,000-30,000; serious circumstances 30,000-100,000.
    "CQ-AGRI-003": {k: {"ordinary": (3000, 10000), "repeat_offence": (10000, 30000),
                        "serious_consequences": (30000, 100000)} for k in ("individual", "unit")},
    # Medical waste as we read art. 46: warning or at most 5,000; not corrected 5,000-30,000.
    "CQ-HLTH-004": {"unit": {"ordinary": (1, 2000), "repeat_offence": (5000, 15000),
                             "serious_consequences": (15000, 30000)}},
    # Hygiene licence: 500-5,000; more serious 5,000-30,000.
    "CQ-HLTH-003": {"unit": {"ordinary": (500, 2000), "repeat_offence": (2000, 5000),
                             "serious_consequences": (5000, 30000)}},
}

TIERS = [
    ("serious_consequences", {"zh": "情节严重或者造成严重后果", "en": "Serious circumstances or consequences"},
     {"serious_consequences": True}),
    ("repeat_offence", None, {"repeat": True}),
    ("first_offence_corrected", {"zh": "首次违法、危害后果轻微并及时改正（首违不罚）",
                                 "en": "First offence, minor and corrected in time (not punished)"},
     {"corrected_in_time": True}),
    ("ordinary", {"zh": "一般情形", "en": "Ordinary"}, {}),
]


def _nice(x, hi):
    """Rounds x down to a round step for the range's size (2 significant figures of hi)."""
    step = max(1, 10 ** (len(str(hi)) - 2))
    return int(x // step * step)


def _split(warning, lo, hi):
    """The generic tiers inside one kind's range: ordinary the lowest 30 %, a repeat offence the
    middle 40-80 %, serious circumstances the top 30 % (从轻 / 一般 / 从重)."""
    floor = max(lo, 1)
    at = lambda f: max(floor, _nice(lo + (hi - lo) * f, hi))
    return {"ordinary": (floor, max(floor, at(0.3))), "repeat_offence": (at(0.4), max(at(0.4), at(0.8))),
            "serious_consequences": (at(0.7), hi)}


def repeat_months(code):
    top = max(r[2] for r in STATUTORY[code][:2] if r)
    return 24 if top >= 100000 else 12


def benchmarks():
    """assist/benchmarks.json: one benchmark per penalty item, tiers per subject kind."""
    items = {}
    for code in sorted(STATUTORY):
        ind, unit, illustrative, _ = STATUTORY[code]
        months = repeat_months(code)
        tiers = []
        for name, label, when in TIERS:
            if label is None:
                label = {"zh": f"{months}个月内再次违法", "en": f"Repeat offence within {months} months"}
            tier = {"tier": name, "label": label, "when": when}
            for kind, rng in (("individual", ind), ("unit", unit)):
                if rng is None:
                    continue
                warning, lo, hi = rng
                if name == "first_offence_corrected":
                    tier[kind] = {"action": "no_penalty", "fine_yuan": {"min": 0, "max": 0}}
                    continue
                mn, mx = TIER_RANGES.get(code, {}).get(kind, {}).get(name) or _split(warning, lo, hi)[name]
                action = "warning" if (name == "ordinary" and warning) else "fine"
                tier[kind] = {"action": action, "fine_yuan": {"min": mn, "max": mx}}
            tiers.append(tier)
        items[code] = {"persuade_first": code in PERSUADE_FIRST, "repeat_within_months": months,
                       "statutory_illustrative": illustrative, "tiers": tiers}
    return {
        "note": ("GENERATED by deploy/data/gen_registry.py from deploy/data/statutory.py; do not edit. "
                 "ILLUSTRATIVE tiers: not Chongqing's published discretion benchmarks. Each tier's range per "
                 "subject kind lies inside that kind's statutory range in registry.json (items[].statutory): "
                 "ordinary the lowest 30 % (a warning where the law allows one on its own), a repeat offence "
                 "40-80 %, serious circumstances the top 30 %, unless the law splits the range itself; a first, "
                 "minor offence corrected in time is not punished (《行政处罚法》第三十三条, 首违不罚). "
                 "Tiers are tried in order; the first whose conditions all hold applies."),
        "items": items,
    }


def statutory(code):
    """registry.json's `statutory` for an item, or None."""
    if code not in STATUTORY:
        return None
    ind, unit, illustrative, note = STATUTORY[code]
    out = {}
    for kind, rng in (("individual", ind), ("unit", unit)):
        if rng:
            out[kind] = {"warning": rng[0], "min_yuan": rng[1], "max_yuan": rng[2]}
    out["illustrative"] = illustrative
    out["note"] = note
    return out


def subject_kinds(code, listed):
    """The kinds the law punishes: the catalogue's kinds narrowed to those with a range."""
    if code not in STATUTORY:
        return listed
    ind, unit = STATUTORY[code][:2]
    return [k for k, r in (("individual", ind), ("unit", unit)) if r]
