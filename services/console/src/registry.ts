// Cached look-ups of the registry: towns, districts, items per district, departments.
import { api, type District, type DistrictInfo, type Item, type Town } from './api';
import type { Names } from './i18n';

let townsP: Promise<Town[]> | null = null;
const itemsP = new Map<string, Promise<Item[]>>();

export function towns(): Promise<Town[]> {
  townsP ??= api.towns().catch((e) => {
    townsP = null;
    throw e;
  });
  return townsP;
}

export async function townByCode(code: string): Promise<Town | undefined> {
  return (await towns()).find((t) => t.code === code);
}

export async function districts(): Promise<District[]> {
  const seen = new Map<string, District>();
  for (const t of await towns()) if (!seen.has(t.district.code)) seen.set(t.district.code, t.district);
  return [...seen.values()].sort((a, b) => a.code.localeCompare(b.code));
}

export function items(district: string): Promise<Item[]> {
  let p = itemsP.get(district);
  if (!p) {
    p = api.items(district).catch((e) => {
      itemsP.delete(district);
      throw e;
    });
    itemsP.set(district, p);
  }
  return p;
}

/** Item names by code (any district: names do not depend on the district). */
export async function itemNames(district: string, code: string): Promise<Names | undefined> {
  return (await items(district)).find((i) => i.code === code)?.names;
}

export interface Department {
  code: string;
  names: Names;
  district: District;
}

const COMMAND_CENTRE: Names = { zh: '综合行政执法指挥中心', en: 'Comprehensive Enforcement Command Centre' };

/**
 * A district's departments: every department that holds an item there, plus the command centre
 * (`{district}-CC`) that triages whistles nobody holds. Names as the router gives them
 * ("渝中区生态环境局" / "Yuzhong District Ecology and Environment Bureau").
 */
export async function departments(district: District): Promise<Department[]> {
  const list = new Map<string, Department>();
  for (const it of await items(district.code)) {
    const h = it.holder;
    if (h && h.kind === 'department' && h.code && h.names && !list.has(h.code)) {
      list.set(h.code, { code: h.code, names: fullName(district, h.names), district });
    }
  }
  const cc = `${district.code}-CC`;
  list.set(cc, { code: cc, names: fullName(district, COMMAND_CENTRE), district });
  return [...list.values()].sort((a, b) => a.code.localeCompare(b.code));
}

function fullName(d: District, n: Names): Names {
  return { zh: `${d.names.zh}${n.zh}`, en: `${d.names.en} ${n.en}` };
}

let districtsP: Promise<DistrictInfo[]> | null = null;

/**
 * Every department of a district as `GET /api/v1/districts` lists them (with the command centre),
 * e.g. the departments a case may be transferred to. Falls back to `departments()` (the item
 * holders) when the answer names none.
 */
export async function districtDepartments(district: District): Promise<Department[]> {
  districtsP ??= api.districts().catch((e) => {
    districtsP = null;
    throw e;
  });
  const info = (await districtsP).find((d) => d.code === district.code);
  if (!info?.departments?.length) return departments(district);
  return info.departments
    .map((d) => ({ code: d.code, names: withDistrict(district, d.names), district }))
    .sort((a, b) => a.code.localeCompare(b.code));
}

/** The name with the district in front, unless it already has it. */
function withDistrict(d: District, n: Names): Names {
  return {
    zh: n.zh.startsWith(d.names.zh) ? n.zh : `${d.names.zh}${n.zh}`,
    en: n.en.startsWith(d.names.en) ? n.en : `${d.names.en} ${n.en}`,
  };
}
