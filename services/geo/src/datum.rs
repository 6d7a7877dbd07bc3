//! WGS-84 and GCJ-02.
//!
//! Maps published in China (AMap/高德, Tencent/腾讯, Baidu in its `gcj02` mode, and the phone SDKs
//! built on them) must show positions in GCJ-02, an obfuscated datum that lies 100–700 m from
//! WGS-84 (GPS). A point picked on such a map and stored as if it were WGS-84 is off by that much.
//! Whistle stores WGS-84; a client that took its coordinates from a Chinese map says so
//! (`"datum": "gcj02"`), and they are converted here. The forward transform is the published
//! one (the algorithm every open implementation, e.g. `eviltransform`, uses); the inverse has no
//! closed form and is found by fixed-point iteration, to well under a centimetre.

use std::f64::consts::PI;

/// A position in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    pub const fn new(lat: f64, lon: f64) -> Point {
        Point { lat, lon }
    }

    /// Great-circle distance in metres (haversine, mean Earth radius).
    pub fn distance_m(self, other: Point) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

/// The datum a client's coordinates are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Datum {
    /// GPS; what Whistle stores.
    #[default]
    Wgs84,
    /// China's GCJ-02, from AMap, Tencent Maps and other Chinese map SDKs.
    Gcj02,
}

impl Datum {
    /// `wgs84` or `gcj02` (case-insensitive; `WGS-84`, `GCJ-02` too).
    pub fn parse(value: &str) -> Option<Datum> {
        match value.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "wgs84" => Some(Datum::Wgs84),
            "gcj02" => Some(Datum::Gcj02),
            _ => None,
        }
    }

    /// The point in WGS-84.
    pub fn to_wgs84(self, p: Point) -> Point {
        match self {
            Datum::Wgs84 => p,
            Datum::Gcj02 => gcj02_to_wgs84(p),
        }
    }
}

/// Krasovsky 1940's semi-major axis and eccentricity squared, as GCJ-02 uses them.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// Outside mainland China's rough box GCJ-02 is WGS-84 unchanged.
fn outside_china(p: Point) -> bool {
    !(72.004..=137.8347).contains(&p.lon) || !(0.8293..=55.8271).contains(&p.lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02.
pub fn wgs84_to_gcj02(p: Point) -> Point {
    if outside_china(p) {
        return p;
    }
    let d_lat = transform_lat(p.lon - 105.0, p.lat - 35.0);
    let d_lon = transform_lon(p.lon - 105.0, p.lat - 35.0);
    let rad_lat = p.lat.to_radians();
    let magic = 1.0 - EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    Point::new(p.lat + d_lat, p.lon + d_lon)
}

/// GCJ-02 → WGS-84: the WGS-84 point whose GCJ-02 image is `p`, found by fixed-point iteration
/// (the offset changes slowly, so a handful of steps reach 1e-10°, about 0.01 mm).
pub fn gcj02_to_wgs84(p: Point) -> Point {
    if outside_china(p) {
        return p;
    }
    let mut w = p;
    for _ in 0..30 {
        let g = wgs84_to_gcj02(w);
        let (d_lat, d_lon) = (g.lat - p.lat, g.lon - p.lon);
        w = Point::new(w.lat - d_lat, w.lon - d_lon);
        if d_lat.abs() < 1e-10 && d_lon.abs() < 1e-10 {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn gcj02_moves_a_chongqing_point_by_a_few_hundred_metres() {
        // 解放碑 in WGS-84.
        let wgs = Point::new(29.5575, 106.5770);
        let gcj = wgs84_to_gcj02(wgs);
        let offset = wgs.distance_m(gcj);
        assert!((100.0..800.0).contains(&offset), "offset {offset} m");
        // The published transform moves Chongqing south-east… east: longitude grows.
        assert!(gcj.lon > wgs.lon);
    }

    #[test]
    fn gcj02_round_trip_is_within_a_centimetre() {
        let wgs = Point::new(29.5575, 106.5770);
        let back = gcj02_to_wgs84(wgs84_to_gcj02(wgs));
        assert!(wgs.distance_m(back) < 0.01, "{back:?}");
    }

    #[test]
    fn outside_china_nothing_moves() {
        let london = Point::new(51.5, -0.12);
        assert_eq!(wgs84_to_gcj02(london), london);
        assert_eq!(gcj02_to_wgs84(london), london);
    }

    #[test]
    fn datum_names_are_read_loosely() {
        for s in ["gcj02", "GCJ-02", "gcj_02"] {
            assert_eq!(Datum::parse(s), Some(Datum::Gcj02), "{s}");
        }
        assert_eq!(Datum::parse("WGS-84"), Some(Datum::Wgs84));
        assert_eq!(Datum::parse("bd09"), None);
    }

    proptest! {
        /// Anywhere in and around Chongqing, GCJ-02 → WGS-84 undoes WGS-84 → GCJ-02 to within a metre.
        #[test]
        fn round_trip_within_a_metre(lat in 27.5f64..33.0, lon in 104.5f64..111.0) {
            let wgs = Point::new(lat, lon);
            let back = gcj02_to_wgs84(wgs84_to_gcj02(wgs));
            prop_assert!(wgs.distance_m(back) < 1.0);
        }
    }
}
