// Two languages: zh-CN (default) and English. The choice is persisted in localStorage.
// Static text in the DOM carries data-i18n="key" (textContent), data-i18n-placeholder,
// data-i18n-aria-label or data-i18n-title; `applyI18n` rewrites them after a switch.

export type Lang = 'zh' | 'en';
export interface Names {
  zh: string;
  en: string;
}

const STORAGE_KEY = 'whistle.lang';

const zh = {
  'app.title': '吹哨报到 · 指挥台',
  'app.brand': '吹哨报到',
  'app.tagline': '乡镇吹哨、部门报到',
  'app.skip': '跳到主要内容',
  'nav.town': '乡镇吹哨',
  'nav.board': '部门看板',
  'nav.manager': '管理视图',
  'nav.label': '主导航',
  'lang.switch': 'English',
  'lang.switchLabel': '切换到英文界面',
  'common.loading': '加载中…',
  'common.retry': '重试',
  'common.showMore': '显示更多（还有 {n} 件）',
  'common.cancel': '取消',
  'common.error': '出错了：{msg}',
  'common.networkError': '无法连接服务器，请检查网络后重试。',
  'common.none': '无',
  'common.code': '编码',
  'common.justNow': '刚刚',
  'common.minutesAgo': '{n} 分钟前',
  'common.hoursAgo': '{n} 小时前',
  'common.daysAgo': '{n} 天前',

  'status.raised': '已吹哨',
  'status.dispatched': '已派发',
  'status.acknowledged': '已受理',
  'status.on_site': '已到场',
  'status.resolved': '已办结',
  'status.rejected': '已退回',

  'authority.statutory': '法定职权',
  'authority.empowered': '赋权乡镇',
  'authority.delegated': '委托乡镇',
  'authority.recovered': '收回部门',

  'conn.connecting': '正在连接…',
  'conn.live': '实时连接',
  'conn.reconnecting': '连接中断，正在重连…',
  'conn.offline': '网络已断开，恢复后自动重连',
  'conn.label': '实时连接状态',

  'town.title': '乡镇吹哨',
  'town.pick': '选择乡镇（街道）',
  'town.pickPlaceholder': '— 请选择乡镇（街道） —',
  'town.pickHint': '先选择您所在的乡镇（街道），即可吹哨并跟踪办理进度。',
  'town.raise': '发起吹哨',
  'town.item': '执法事项',
  'town.itemPlaceholder': '— 请选择执法事项 —',
  'town.itemGroupDept': '需吹哨由部门办理',
  'town.itemGroupTown': '本乡镇可直接办理（无需吹哨）',
  'town.itemTownSuffix': '（本镇办理）',
  'town.description': '情况描述',
  'town.descriptionPlaceholder': '例如：河边有废油桶泄漏，气味刺鼻',
  'town.suggestions': '可能相关的事项（点击选用）：',
  'town.address': '地址',
  'town.addressPlaceholder': '例如：渝中区解放碑步行街 88 号',
  'town.lat': '纬度',
  'town.lon': '经度',
  'town.useLocation': '使用当前位置',
  'town.locating': '定位中…',
  'town.locationFailed': '无法获取位置，请手动填写坐标。',
  'town.photos': '照片链接（可选，每行一个）',
  'town.submit': '吹哨',
  'town.submitting': '提交中…',
  'town.raised': '已吹哨。办理状态会在这里实时更新：',
  'town.routePreview': '派发去向',
  'town.routeChecking': '正在查询责任部门…',
  'town.holdsItemTitle': '本乡镇可直接办理，无需吹哨',
  'town.triage': '该事项暂无责任部门，将由区综合行政执法指挥中心分派。',
  'town.required': '请填写此项。',
  'town.badLat': '纬度应在 -90 到 90 之间。',
  'town.badLon': '经度应在 -180 到 180 之间。',
  'town.list': '本乡镇的吹哨',
  'town.filter': '按状态筛选',
  'town.filterAll': '全部',
  'town.filterOpen': '办理中',
  'town.empty': '还没有吹哨记录。',
  'town.emptyFiltered': '没有符合筛选条件的吹哨。',
  'town.department': '责任部门',
  'town.routing': '正在派发…',
  'town.timeline': '办理过程',
  'town.newStatus': '「{item}」状态更新：{status}',

  'board.title': '部门实时看板',
  'board.pick': '选择部门',
  'board.district': '区县',
  'board.pickPlaceholder': '— 请选择部门 —',
  'board.pickHint': '选择您所在的部门，新的派单会自动出现在看板上。',
  'board.col.new': '待受理',
  'board.col.acknowledged': '已受理',
  'board.col.on_site': '已到场',
  'board.closed': '本次已办结 / 退回',
  'board.empty': '暂无案件',
  'board.loading': '正在加载看板…',
  'board.acknowledge': '受理',
  'board.arrive': '到场',
  'board.resolve': '办结',
  'board.reject': '退回',
  'board.rejectReason': '退回理由',
  'board.rejectReasonPlaceholder': '例如：不属于本部门职责，请转交城市管理局',
  'board.rejectConfirm': '确认退回',
  'board.reasonRequired': '请填写退回理由。',
  'board.sending': '提交中…',
  'board.newDispatch': '新派单：{item}（{town}）',
  'board.triage': '待分派',
  'board.raisedAt': '吹哨于',
  'board.due.acknowledge': '受理时限',
  'board.due.arrive': '到场时限',
  'board.due.resolve': '办结时限',
  'board.overdueBy': '已超时 {d}',
  'board.remaining': '剩余 {d}',
  'board.photos': '照片',
  'board.map': '地图',
  'board.count': '{n} 件',

  'manager.title': '管理视图',
  'manager.unavailableTitle': 'SLA 指标尚未上线',
  'manager.unavailable': '时限（SLA）统计服务还未部署。上线后，这里会显示各区县、各部门的平均受理时长、平均办结时长、超时率和当前超时案件。',
  'manager.summary': '时限统计',
  'manager.byDistrict': '按区县',
  'manager.byDepartment': '按部门',
  'manager.name': '名称',
  'manager.mtta': '平均受理时长',
  'manager.mttr': '平均办结时长',
  'manager.breachRate': '超时率',
  'manager.overdueNow': '当前超时',
  'manager.cases': '案件数',
  'manager.overdue': '超时案件',
  'manager.noOverdue': '当前没有超时案件。',
  'manager.trend': '趋势',
  'manager.updated': '更新于 {t}',
  'manager.overdueFor': '超时',
} as const;

export type Key = keyof typeof zh;

const en: Record<Key, string> = {
  'app.title': 'Whistle · Console',
  'app.brand': 'Whistle',
  'app.tagline': 'Towns whistle, departments respond',
  'app.skip': 'Skip to content',
  'nav.town': 'Town',
  'nav.board': 'Department board',
  'nav.manager': 'Manager',
  'nav.label': 'Main navigation',
  'lang.switch': '中文',
  'lang.switchLabel': 'Switch to Chinese',
  'common.loading': 'Loading…',
  'common.retry': 'Retry',
  'common.showMore': 'Show more ({n} more)',
  'common.cancel': 'Cancel',
  'common.error': 'Something went wrong: {msg}',
  'common.networkError': 'Cannot reach the server. Check the network and try again.',
  'common.none': 'none',
  'common.code': 'Code',
  'common.justNow': 'just now',
  'common.minutesAgo': '{n} min ago',
  'common.hoursAgo': '{n} h ago',
  'common.daysAgo': '{n} d ago',

  'status.raised': 'Raised',
  'status.dispatched': 'Dispatched',
  'status.acknowledged': 'Acknowledged',
  'status.on_site': 'On site',
  'status.resolved': 'Resolved',
  'status.rejected': 'Rejected',

  'authority.statutory': 'statutory',
  'authority.empowered': 'empowered to towns',
  'authority.delegated': 'delegated to towns',
  'authority.recovered': 'recovered by department',

  'conn.connecting': 'Connecting…',
  'conn.live': 'Live',
  'conn.reconnecting': 'Connection lost, reconnecting…',
  'conn.offline': 'Offline — will reconnect automatically',
  'conn.label': 'Live connection status',

  'town.title': 'Town dashboard',
  'town.pick': 'Town or subdistrict',
  'town.pickPlaceholder': '— choose your town —',
  'town.pickHint': 'Choose your town or subdistrict to raise whistles and follow them.',
  'town.raise': 'Raise a whistle',
  'town.item': 'Enforcement item',
  'town.itemPlaceholder': '— choose an item —',
  'town.itemGroupDept': 'Handled by a district department (whistle)',
  'town.itemGroupTown': 'Your town handles these itself (no whistle)',
  'town.itemTownSuffix': ' (your town)',
  'town.description': 'What is happening',
  'town.descriptionPlaceholder': 'e.g. leaking waste-oil drums by the river, strong smell',
  'town.suggestions': 'Possibly matching items (click to use):',
  'town.address': 'Address',
  'town.addressPlaceholder': 'e.g. 88 Jiefangbei Pedestrian Street, Yuzhong',
  'town.lat': 'Latitude',
  'town.lon': 'Longitude',
  'town.useLocation': 'Use my location',
  'town.locating': 'Locating…',
  'town.locationFailed': 'Could not get your location; enter the coordinates by hand.',
  'town.photos': 'Photo URLs (optional, one per line)',
  'town.submit': 'Whistle',
  'town.submitting': 'Sending…',
  'town.raised': 'Whistle raised. Its status updates here live:',
  'town.routePreview': 'Goes to',
  'town.routeChecking': 'Finding the responsible department…',
  'town.holdsItemTitle': 'Your town handles this itself — no whistle needed',
  'town.triage': 'Nobody holds this item; the district command centre will triage it.',
  'town.required': 'Please fill this in.',
  'town.badLat': 'Latitude must be between -90 and 90.',
  'town.badLon': 'Longitude must be between -180 and 180.',
  'town.list': "This town's whistles",
  'town.filter': 'Filter by status',
  'town.filterAll': 'All',
  'town.filterOpen': 'Open',
  'town.empty': 'No whistles yet.',
  'town.emptyFiltered': 'No whistles match this filter.',
  'town.department': 'Department',
  'town.routing': 'Dispatching…',
  'town.timeline': 'Timeline',
  'town.newStatus': '"{item}" is now {status}',

  'board.title': 'Department live board',
  'board.pick': 'Department',
  'board.district': 'District',
  'board.pickPlaceholder': '— choose your department —',
  'board.pickHint': 'Choose your department; new dispatches appear here by themselves.',
  'board.col.new': 'New',
  'board.col.acknowledged': 'Acknowledged',
  'board.col.on_site': 'On site',
  'board.closed': 'Closed this session',
  'board.empty': 'No cases',
  'board.loading': 'Loading the board…',
  'board.acknowledge': 'Acknowledge',
  'board.arrive': 'Arrived',
  'board.resolve': 'Resolve',
  'board.reject': 'Reject',
  'board.rejectReason': 'Reason for rejecting',
  'board.rejectReasonPlaceholder': 'e.g. not ours — Urban Management holds this item',
  'board.rejectConfirm': 'Reject whistle',
  'board.reasonRequired': 'Please give a reason.',
  'board.sending': 'Sending…',
  'board.newDispatch': 'New dispatch: {item} ({town})',
  'board.triage': 'Triage',
  'board.raisedAt': 'Raised',
  'board.due.acknowledge': 'Acknowledge by',
  'board.due.arrive': 'Arrive by',
  'board.due.resolve': 'Resolve by',
  'board.overdueBy': 'overdue by {d}',
  'board.remaining': '{d} left',
  'board.photos': 'Photos',
  'board.map': 'Map',
  'board.count': '{n}',

  'manager.title': 'Manager view',
  'manager.unavailableTitle': 'SLA metrics not available yet',
  'manager.unavailable':
    'The SLA service is not deployed yet. Once it is, this page shows mean time to acknowledge, mean time to resolve, breach rate and overdue cases per district and department.',
  'manager.summary': 'SLA summary',
  'manager.byDistrict': 'By district',
  'manager.byDepartment': 'By department',
  'manager.name': 'Name',
  'manager.mtta': 'MTTA',
  'manager.mttr': 'MTTR',
  'manager.breachRate': 'Breach rate',
  'manager.overdueNow': 'Overdue now',
  'manager.cases': 'Cases',
  'manager.overdue': 'Overdue cases',
  'manager.noOverdue': 'No case is overdue right now.',
  'manager.trend': 'Over time',
  'manager.updated': 'Updated {t}',
  'manager.overdueFor': 'Overdue',
};

const dict: Record<Lang, Record<Key, string>> = { zh, en };

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch {
    /* storage disabled */
  }
  return 'zh';
}

let current: Lang = initialLang();
const listeners = new Set<(l: Lang) => void>();

export function lang(): Lang {
  return current;
}

export function setLang(l: Lang): void {
  if (l === current) return;
  current = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* storage disabled */
  }
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document.body);
  for (const f of listeners) f(l);
}

export function onLangChange(f: (l: Lang) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export function t(key: Key, params?: Record<string, string | number>): string {
  let s = dict[current][key] ?? key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** The name in the UI language, falling back to the other one. */
export function nm(names: Partial<Names> | null | undefined, fallback = ''): string {
  if (!names) return fallback;
  return (current === 'zh' ? names.zh || names.en : names.en || names.zh) || fallback;
}

/** The name in the other language (shown as a secondary line). */
export function nmOther(names: Partial<Names> | null | undefined): string {
  if (!names) return '';
  return (current === 'zh' ? names.en : names.zh) ?? '';
}

export function applyI18n(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n as Key);
  });
  root.querySelectorAll<HTMLElement>('[data-i18n-placeholder]').forEach((el) => {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder as Key));
  });
  root.querySelectorAll<HTMLElement>('[data-i18n-aria-label]').forEach((el) => {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel as Key));
  });
  root.querySelectorAll<HTMLElement>('[data-i18n-title]').forEach((el) => {
    el.setAttribute('title', t(el.dataset.i18nTitle as Key));
  });
}

export function locale(): string {
  return current === 'zh' ? 'zh-CN' : 'en-GB';
}
