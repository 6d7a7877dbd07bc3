//! Point in polygon and distance to an outline, on `[lon, lat]` rings.

use crate::datum::Point;

/// A closed ring of `[lon, lat]` vertices (the last may repeat the first).
pub type Ring = [[f64; 2]];

/// Even–odd rule over every ring of a polygon: inside the outer ring and not inside a hole.
pub fn contains(rings: &[Vec<[f64; 2]>], p: Point) -> bool {
    rings.iter().filter(|r| ring_contains(r, p)).count() % 2 == 1
}

/// Whether `p` lies inside `ring` (ray casting; a point on an edge may fall either way).
pub fn ring_contains(ring: &Ring, p: Point) -> bool {
    let (x, y) = (p.lon, p.lat);
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let [x1, y1] = ring[i];
        let [x2, y2] = ring[(i + n - 1) % n];
        if (y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1 {
            inside = !inside;
        }
    }
    inside
}

/// Metres from `p` to the nearest edge of `ring` (an equirectangular projection at `p`'s
/// latitude: exact enough at the kilometre scale this is used for).
pub fn distance_to_ring_m(ring: &Ring, p: Point) -> f64 {
    const M_PER_DEG: f64 = 111_195.0;
    let kx = M_PER_DEG * p.lat.to_radians().cos();
    let project = |[lon, lat]: [f64; 2]| ((lon - p.lon) * kx, (lat - p.lat) * M_PER_DEG);
    let n = ring.len();
    let mut best = f64::INFINITY;
    for i in 0..n {
        let (ax, ay) = project(ring[i]);
        let (bx, by) = project(ring[(i + 1) % n]);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let t = if len2 == 0.0 { 0.0 } else { (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0) };
        let (cx, cy) = (ax + t * dx, ay + t * dy);
        best = best.min((cx * cx + cy * cy).sqrt());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, side: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]
    }

    #[test]
    fn a_point_is_inside_a_square_and_not_outside_it() {
        let rings = vec![square(0.0, 0.0, 1.0)];
        assert!(contains(&rings, Point::new(0.5, 0.5)));
        assert!(!contains(&rings, Point::new(1.5, 0.5)));
        assert!(!contains(&rings, Point::new(0.5, -0.1)));
    }

    #[test]
    fn a_hole_is_outside() {
        let rings = vec![square(0.0, 0.0, 4.0), square(1.0, 1.0, 2.0)];
        assert!(!contains(&rings, Point::new(2.0, 2.0)), "in the hole");
        assert!(contains(&rings, Point::new(0.5, 0.5)), "in the body");
    }

    #[test]
    fn a_concave_notch_is_outside() {
        // A U shape: the notch between its arms is outside.
        let u =
            vec![vec![[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [2.0, 3.0], [2.0, 1.0], [1.0, 1.0], [1.0, 3.0], [0.0, 3.0]]];
        assert!(!contains(&u, Point::new(2.0, 1.5)));
        assert!(contains(&u, Point::new(2.0, 0.5)));
        assert!(contains(&u, Point::new(0.5, 2.5)));
    }

    #[test]
    fn distance_to_an_edge_is_in_metres() {
        let ring = square(106.0, 29.0, 0.1);
        // 0.01° of latitude south of the bottom edge: about 1,112 m.
        let d = distance_to_ring_m(&ring, Point::new(28.99, 106.05));
        assert!((1_100.0..1_125.0).contains(&d), "{d}");
    }
}
