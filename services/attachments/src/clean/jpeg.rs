//! JPEG: the segments an image needs are copied byte for byte; every other one goes.
//!
//! Kept: the quantisation and Huffman tables, the frame and scan headers with their
//! entropy-coded data, restart intervals, the JFIF header (APP0), an ICC colour profile (APP2
//! `ICC_PROFILE`) and Adobe's colour transform (APP14), which decoders need to show the
//! colours right. Dropped: EXIF (APP1, with its GPS, camera, maker notes and thumbnail), XMP
//! (APP1), IPTC and Photoshop (APP13), every other APPn, comments, and anything after the
//! end-of-image marker (where phones append motion-photo videos and secondary images).
//!
//! A phone stores a portrait photo sideways with an EXIF orientation; that one tag is written
//! back in a minimal EXIF segment of its own, so the photo still shows upright.

use super::Refused;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

fn malformed(reason: impl Into<String>) -> Refused {
    Refused::Malformed { kind: "JPEG", reason: reason.into() }
}

/// The image of `data` without its metadata.
pub fn clean(data: &[u8]) -> Result<Vec<u8>, Refused> {
    if !data.starts_with(&[0xFF, SOI]) {
        return Err(malformed("no start-of-image marker"));
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&[0xFF, SOI]);
    // Where the orientation segment goes: after SOI, or after a JFIF header that comes first.
    let mut orientation_at = out.len();
    let mut orientation = None;
    let mut frame = false;
    let mut pos = 2;
    loop {
        if data.get(pos) != Some(&0xFF) {
            return Err(malformed(if pos >= data.len() {
                "it ends before its end-of-image marker".to_owned()
            } else {
                format!("no marker at byte {pos}")
            }));
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *data.get(pos).ok_or_else(|| malformed("it ends inside a marker"))?;
        pos += 1;
        match marker {
            EOI => {
                if !frame {
                    return Err(malformed("no image data before its end-of-image marker"));
                }
                out.extend_from_slice(&[0xFF, EOI]);
                break;
            }
            0x00 | SOI => return Err(malformed(format!("unexpected marker 0x{marker:02X} at byte {}", pos - 1))),
            // Markers without a length (restart markers outside a scan, TEM).
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                continue;
            }
            _ => {}
        }
        let length = data.get(pos..pos + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let length = length.ok_or_else(|| malformed("it ends inside a segment header"))?;
        if length < 2 || pos + length > data.len() {
            return Err(malformed(format!("segment 0x{marker:02X} at byte {} runs past the end", pos - 2)));
        }
        let payload = &data[pos + 2..pos + length];
        let keep = match marker {
            APP0 => payload.starts_with(b"JFIF\0"),
            APP1 => {
                if orientation.is_none()
                    && let Some(tiff) = payload.strip_prefix(b"Exif\0\0")
                {
                    orientation = exif_orientation(tiff);
                }
                false
            }
            APP2 => payload.starts_with(b"ICC_PROFILE\0"),
            APP14 => payload.starts_with(b"Adobe"),
            // Other application segments, comments and the reserved JPGn extensions.
            0xE3..=0xEF | COM | 0xF0..=0xFD => false,
            // SOFn, DHT, DAC, DQT, DRI, DNL, SOS, …: the image itself.
            _ => true,
        };
        if keep {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&data[pos..pos + length]);
            if marker == APP0 && orientation_at == 2 && out.len() == 4 + length {
                orientation_at = out.len();
            }
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            frame = true;
        }
        pos += length;
        if marker == SOS {
            if !frame {
                return Err(malformed("a scan before any frame header"));
            }
            let end = scan_end(data, pos)?;
            out.extend_from_slice(&data[pos..end]);
            pos = end;
        }
    }
    if let Some(value) = orientation.filter(|v| *v != 1) {
        let segment = orientation_segment(value);
        out.splice(orientation_at..orientation_at, segment);
    }
    Ok(out)
}

/// Where the entropy-coded data starting at `from` ends: at the first marker that is neither
/// a stuffed zero (`FF 00`) nor a restart marker.
fn scan_end(data: &[u8], from: usize) -> Result<usize, Refused> {
    let mut i = from;
    loop {
        let at = data[i..].iter().position(|b| *b == 0xFF).map(|p| i + p);
        let at = at.ok_or_else(|| malformed("it ends inside its image data"))?;
        match data.get(at + 1) {
            None => return Err(malformed("it ends inside its image data")),
            Some(0x00 | 0xD0..=0xD7) => i = at + 2,
            // A fill byte: the marker follows it.
            Some(0xFF) => i = at + 1,
            Some(_) => return Ok(at),
        }
    }
}

/// The orientation (1–8) of an EXIF block (a TIFF structure), if it has a valid one.
fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let big = match tiff.get(..4)? {
        b"MM\0\x2A" => true,
        b"II\x2A\0" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at + 2)?;
        Some(if big { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|n| {
        let entry = ifd.checked_add(2 + 12 * n)?;
        // Tag 0x0112 (Orientation), type 3 (SHORT), one value, held in the entry itself.
        (u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3 && u32_at(entry + 4)? == 1)
            .then(|| u16_at(entry + 8))
            .flatten()
            .filter(|v| (1..=8).contains(v))
    })
}

/// An APP1 EXIF segment holding nothing but the orientation.
fn orientation_segment(value: u16) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2A");
    tiff.extend_from_slice(&8u32.to_be_bytes());
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut segment = vec![0xFF, APP1];
    let length = u16::try_from(2 + 6 + tiff.len()).unwrap_or(u16::MAX);
    segment.extend_from_slice(&length.to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(&tiff);
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&u16::try_from(payload.len() + 2).expect("small").to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    /// A structurally complete JPEG (not a decodable picture): SOI, `extra` segments, a frame, a
    /// scan with stuffed bytes and a restart marker, EOI.
    fn jpeg(extra: &[Vec<u8>], trailer: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        for s in extra {
            out.extend_from_slice(s);
        }
        out.extend(segment(0xDB, &[0; 65]));
        out.extend(segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
        out.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        out.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        out.extend_from_slice(&[0xFF, EOI]);
        out.extend_from_slice(trailer);
        out
    }

    fn exif(orientation: u16, gps: bool) -> Vec<u8> {
        // II byte order, IFD0 with Orientation (and a GPS IFD pointer when asked).
        let mut tiff = b"II\x2A\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        let entries: u16 = if gps { 2 } else { 1 };
        tiff.extend_from_slice(&entries.to_le_bytes());
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]);
        if gps {
            tiff.extend_from_slice(&0x8825u16.to_le_bytes());
            tiff.extend_from_slice(&4u16.to_le_bytes());
            tiff.extend_from_slice(&1u32.to_le_bytes());
            tiff.extend_from_slice(&38u32.to_le_bytes());
        }
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(b"GPSDATA-29.557N-106.577E");
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend(tiff);
        segment(APP1, &payload)
    }

    #[test]
    fn exif_xmp_comments_and_trailers_go_and_the_image_stays() {
        let jfif = segment(APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let icc = segment(APP2, b"ICC_PROFILE\0\x01\x01profile");
        let original = jpeg(
            &[
                jfif.clone(),
                exif(1, true),
                segment(APP1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta GPSLatitude=\"29\"/>"),
                segment(0xED, b"Photoshop 3.0\0IPTC city"),
                segment(COM, b"taken at home"),
                icc.clone(),
            ],
            b"MotionPhoto video bytes",
        );
        let cleaned = clean(&original).expect("clean");
        assert_eq!(cleaned, jpeg(&[jfif, icc], b""));
        for gone in [&b"GPS"[..], b"Exif", b"xmpmeta", b"IPTC", b"taken at home", b"MotionPhoto"] {
            assert!(!cleaned.windows(gone.len()).any(|w| w == gone), "{}", String::from_utf8_lossy(gone));
        }
    }

    #[test]
    fn a_sideways_photo_keeps_only_its_orientation() {
        let jfif = segment(APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let cleaned = clean(&jpeg(&[jfif.clone(), exif(6, true)], b"")).expect("clean");
        assert_eq!(cleaned, jpeg(&[jfif, orientation_segment(6)], b""));
        assert_eq!(exif_orientation(&orientation_segment(6)[10..]), Some(6));
        assert!(!cleaned.windows(3).any(|w| w == b"GPS"));
        // Without a JFIF header, the orientation goes right after SOI.
        let cleaned = clean(&jpeg(&[exif(8, false)], b"")).expect("clean");
        assert_eq!(cleaned, jpeg(&[orientation_segment(8)], b""));
    }

    #[test]
    fn broken_structures_are_refused() {
        let good = jpeg(&[], b"");
        assert!(clean(&good).is_ok());
        for cut in [3, 10, good.len() - 1] {
            assert!(matches!(clean(&good[..cut]), Err(Refused::Malformed { .. })), "cut at {cut}");
        }
        assert!(clean(b"\xFF\xD8\xFF\xD9").is_err(), "no frame");
        assert!(clean(b"\xFF\xD8garbage").is_err());
        let mut huge = vec![0xFF, SOI, 0xFF, 0xE1, 0xFF, 0xFF];
        huge.extend_from_slice(&[0; 16]);
        assert!(clean(&huge).is_err(), "a segment longer than the file");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_after_the_marker_are_refused_or_cleaned_never_a_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            let mut data = vec![0xFF, SOI];
            data.extend(tail);
            let _ = clean(&data);
        }
    }
}
