// Types of chongqing.js (plain JavaScript so that Node's test runner can import it as is).
import type { Names } from '../i18n';

export interface GeoFeature {
  type: string;
  id?: string;
  properties: { name: string; geo_name?: string; cp?: number[]; [k: string]: unknown };
  geometry: unknown;
}
export interface GeoJson {
  type: string;
  features: GeoFeature[];
  [k: string]: unknown;
}
export interface NamedDistrict {
  code: string;
  names: Names;
}

export const RENAMED: Readonly<Record<string, string>>;
export function currentName(geoName: string): string;
export function districtOf<D extends NamedDistrict>(geoName: string, districts: D[]): D | undefined;
export function matchDistricts(geojson: GeoJson, districts: NamedDistrict[]): { matched: Map<string, string>; unmatched: string[] };
export function byCode(geojson: GeoJson, districts: NamedDistrict[]): GeoJson;
