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

  'nav.registry': '事项目录',
  'nav.login': '登录',
  'role.town': '乡镇（街道）',
  'role.department': '部门',
  'role.command_centre': '区指挥中心',
  'role.manager': '管理（只读）',
  'role.admin': '目录管理员',
  'auth.account': '当前账号',
  'auth.logout': '退出登录',
  'auth.logoutLabel': '退出登录（{user}）',
  'login.title': '登录吹哨报到指挥台',
  'login.intro': '请使用您的账号登录。乡镇、部门、指挥中心、管理人员登录后直接进入各自的页面。',
  'login.username': '账号',
  'login.usernamePlaceholder': '例如：town-500103001',
  'login.password': '密码',
  'login.submit': '登录',
  'login.submitting': '登录中…',
  'login.invalid': '账号或密码不正确，请重新输入。',
  'login.expired': '登录已过期或无效，请重新登录。',
  'login.loggedOut': '您已退出登录。',
  'login.required': '请填写账号和密码。',
  'login.demo': '演示账号（开发环境，密码 whistle-demo）：town-500103001（乡镇）、dept-500103-EE（部门）、dept-500103-CC（区指挥中心）、manager、manager-500103（管理，只读）、admin（目录管理）。',
  'common.forbidden': '您的账号无权进行此操作：{msg}',
  'common.forbiddenShort': '无权限',
  'common.readOnly': '只读：管理账号可以查看，但不能办理。',
  'town.ownTown': '您的账号属于此乡镇（街道）。',
  'town.actor': '操作人',
  'board.readOnlyOther': '只读：您的账号以 {dept} 的身份办理，此看板上的案件由其他部门办理。',
  'board.ownDept': '您的账号只能查看本部门看板。',
  'registry.title': '执法事项目录管理',
  'registry.subtitle': '查看各区县执法事项的承办主体、历史版本和审计记录；下放、收回或变更承办主体；导入导出 CSV。',
  'registry.district': '区县',
  'registry.cityWide': '全市默认（*）',
  'registry.search': '搜索事项',
  'registry.searchPlaceholder': '编码或名称',
  'registry.items': '事项（{n}）',
  'registry.code': '编码',
  'registry.name': '名称',
  'registry.holder': '当前承办',
  'registry.authority': '权限',
  'registry.towns': '乡镇（街道）',
  'registry.heldBy': '承办主体',
  'registry.pickItem': '在左侧选择一个事项，查看其历史并提出变更。',
  'registry.history': '承办历史',
  'registry.audit': '审计记录',
  'registry.noAudit': '尚无变更记录。',
  'registry.from': '起',
  'registry.to': '止',
  'registry.reason': '理由',
  'registry.actor': '操作人',
  'registry.recordedAt': '记录时间',
  'registry.version': '版本',
  'registry.change': '提出变更',
  'registry.action': '变更类型',
  'registry.action.delegate': '下放乡镇',
  'registry.action.recover': '收回部门',
  'registry.action.change_holder': '变更承办主体',
  'registry.action.import': 'CSV 导入',
  'registry.deptType': '部门类型（收回、变更为部门时必填）',
  'registry.deptTypePlaceholder': '例如：EE',
  'registry.authorityDefault': '默认',
  'registry.effectiveFrom': '生效时间',
  'registry.reasonPlaceholder': '例如：依据区政府文件，将该事项下放至乡镇',
  'registry.preview': '预览影响',
  'registry.apply': '确认变更',
  'registry.applied': '已变更：{item} 现为第 {v} 版。',
  'registry.whatif': '若生效：{open} 件办理中的吹哨将改派；过去 30 天 {total} 件中有 {affected} 件（{share}）会派往别处。',
  'registry.export': '导出 CSV',
  'registry.import': '导入 CSV',
  'registry.importFile': '选择 CSV 文件',
  'registry.imported': '已导入 {rows} 行、{items} 个事项，变更 {n} 个。',
  'registry.working': '处理中…',
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

  'nav.registry': 'Registry',
  'nav.login': 'Log in',
  'role.town': 'town',
  'role.department': 'department',
  'role.command_centre': 'command centre',
  'role.manager': 'manager (read-only)',
  'role.admin': 'registry admin',
  'auth.account': 'Signed in as',
  'auth.logout': 'Log out',
  'auth.logoutLabel': 'Log out ({user})',
  'login.title': 'Log in to Whistle',
  'login.intro': 'Log in with your account. Towns, departments, command centres and managers land on their own page.',
  'login.username': 'Username',
  'login.usernamePlaceholder': 'e.g. town-500103001',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.submitting': 'Logging in…',
  'login.invalid': 'Wrong username or password. Please try again.',
  'login.expired': 'Your session has expired or is no longer valid. Please log in again.',
  'login.loggedOut': 'You have logged out.',
  'login.required': 'Enter your username and password.',
  'login.demo': 'Demo accounts (dev stack, password whistle-demo): town-500103001 (town), dept-500103-EE (department), dept-500103-CC (command centre), manager, manager-500103 (read-only), admin (registry).',
  'common.forbidden': 'Your account may not do this: {msg}',
  'common.forbiddenShort': 'Not allowed',
  'common.readOnly': 'Read-only: manager accounts can look but not act.',
  'town.ownTown': 'Your account belongs to this town.',
  'town.actor': 'by',
  'board.readOnlyOther': 'Read-only: your account acts as {dept}; the cases on this board belong to another department.',
  'board.ownDept': 'Your account sees only its own department\'s board.',
  'registry.title': 'Registry administration',
  'registry.subtitle': 'Who holds each enforcement item in each district, its history and audit trail; delegate, recover or change the holder; CSV import and export.',
  'registry.district': 'District',
  'registry.cityWide': 'City-wide default (*)',
  'registry.search': 'Search items',
  'registry.searchPlaceholder': 'code or name',
  'registry.items': 'Items ({n})',
  'registry.code': 'Code',
  'registry.name': 'Name',
  'registry.holder': 'Held by',
  'registry.authority': 'Authority',
  'registry.towns': 'towns',
  'registry.heldBy': 'Holder',
  'registry.pickItem': 'Choose an item on the left to see its history and propose a change.',
  'registry.history': 'Holder history',
  'registry.audit': 'Audit trail',
  'registry.noAudit': 'No changes recorded yet.',
  'registry.from': 'From',
  'registry.to': 'To',
  'registry.reason': 'Reason',
  'registry.actor': 'By',
  'registry.recordedAt': 'Recorded',
  'registry.version': 'Version',
  'registry.change': 'Propose a change',
  'registry.action': 'Change',
  'registry.action.delegate': 'Delegate to towns',
  'registry.action.recover': 'Recover to a department',
  'registry.action.change_holder': 'Change holder',
  'registry.action.import': 'CSV import',
  'registry.deptType': 'Department type (for recover, or a department holder)',
  'registry.deptTypePlaceholder': 'e.g. EE',
  'registry.authorityDefault': 'default',
  'registry.effectiveFrom': 'Effective from',
  'registry.reasonPlaceholder': 'e.g. district government notice: delegated to the towns',
  'registry.preview': 'Preview impact',
  'registry.apply': 'Apply change',
  'registry.applied': 'Changed: {item} is now version {v}.',
  'registry.whatif': 'Once in force: {open} open whistles would be re-routed; of {total} whistles in the last 30 days, {affected} ({share}) would have gone elsewhere.',
  'registry.export': 'Export CSV',
  'registry.import': 'Import CSV',
  'registry.importFile': 'CSV file',
  'registry.imported': 'Imported {rows} rows, {items} items; {n} changed.',
  'registry.working': 'Working…',
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
