//! MP4 (ISO base media): the boxes that can say where and by what a video was made are
//! neutralised in place: their type becomes `free` and their content zeros.
//!
//! Removing the boxes instead would shift every byte behind them, and the sample tables
//! (`stco`, `co64`) hold absolute file offsets into `mdat`, which would then point at the wrong
//! bytes. A `free` box of the same size changes no offset, and every player skips it.
//!
//! Neutralised wherever the walk goes (the file's top level, `moov`, `trak`, `mdia`, `minf`,
//! `moof`, `traf`): `udta` (user data: QuickTime's `©xyz` location, 3GPP's `loci`, the camera
//! make and model, XMP), `meta` (Apple's `com.apple.quicktime.location.ISO6709`, iTunes
//! metadata), `uuid` boxes (XMP, vendors' private data), `©…` boxes, and the content of
//! `free`/`skip` boxes (leftovers of earlier edits). At the top level every box but `ftyp`,
//! `styp`, `moov`, `mdat`, `moof`, `mfra` and `sidx` is neutralised.
//!
//! Refused: a track whose handler is not video, sound or timecode. Timed metadata tracks
//! (`meta`, `camm`, GoPro's GPMF) carry GPS fixes as samples inside `mdat`, where neutralising
//! the track's header would leave the fixes in the file.

use super::Refused;

fn malformed(reason: impl Into<String>) -> Refused {
    Refused::Malformed { kind: "MP4", reason: reason.into() }
}

/// Containers the walk descends into.
const CONTAINERS: [&[u8; 4]; 7] = [b"moov", b"trak", b"mdia", b"minf", b"moof", b"traf", b"edts"];
/// Kept as they are at the top level (besides the containers).
const TOP_LEVEL: [&[u8; 4]; 5] = [b"ftyp", b"styp", b"mdat", b"mfra", b"sidx"];
/// Track handlers accepted.
const HANDLERS: [&[u8; 4]; 3] = [b"vide", b"soun", b"tmcd"];

/// One box: where it starts, where its content starts, where it ends.
#[derive(Debug, Clone, Copy)]
struct Box4 {
    kind: [u8; 4],
    start: usize,
    content: usize,
    end: usize,
}

/// The boxes between `from` and `to`.
fn boxes(data: &[u8], from: usize, to: usize) -> Result<Vec<Box4>, Refused> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < to {
        let header = data.get(pos..pos + 8).filter(|_| pos + 8 <= to);
        let header = header.ok_or_else(|| malformed(format!("a box header at byte {pos} runs past its parent")))?;
        let size = u64::from(u32::from_be_bytes([header[0], header[1], header[2], header[3]]));
        let kind = [header[4], header[5], header[6], header[7]];
        let (size, mut content) = match size {
            // Up to the end of the parent (the file's last box).
            0 => (u64::try_from(to - pos).unwrap_or(u64::MAX), pos + 8),
            1 => {
                let large = data.get(pos + 8..pos + 16).filter(|_| pos + 16 <= to);
                let large = large.ok_or_else(|| malformed("a 64-bit box size runs past its parent"))?;
                (u64::from_be_bytes(large.try_into().map_err(|_| malformed("a 64-bit box size"))?), pos + 16)
            }
            n => (n, pos + 8),
        };
        if &kind == b"uuid" {
            content += 16;
        }
        let end = usize::try_from(size).ok().and_then(|s| pos.checked_add(s)).filter(|e| *e <= to && *e >= content);
        let end = end.ok_or_else(|| {
            malformed(format!("box {} at byte {pos} runs past its parent", String::from_utf8_lossy(&kind)))
        })?;
        out.push(Box4 { kind, start: pos, content, end });
        pos = end;
    }
    Ok(out)
}

/// Makes `b` a `free` box of the same size with zeroed content.
fn neutralise(data: &mut [u8], b: Box4) {
    data[b.start + 4..b.start + 8].copy_from_slice(b"free");
    // The 64-bit size of a large box stays; everything after the header is zeroed (a uuid's
    // user type included).
    let header = if u32::from_be_bytes([data[b.start], data[b.start + 1], data[b.start + 2], data[b.start + 3]]) == 1 {
        16
    } else {
        8
    };
    data[b.start + header..b.end].fill(0);
}

fn metadata(kind: &[u8; 4]) -> bool {
    matches!(kind, b"udta" | b"meta" | b"uuid" | b"free" | b"skip") || kind[0] == 0xA9
}

/// The video of `data` with its metadata neutralised.
pub fn clean(data: &[u8]) -> Result<Vec<u8>, Refused> {
    let mut out = data.to_vec();
    let top = boxes(data, 0, data.len())?;
    if top.first().map(|b| &b.kind) != Some(b"ftyp") {
        return Err(malformed("the first box is not ftyp"));
    }
    let count = |kind: &[u8; 4]| top.iter().filter(|b| &b.kind == kind).count();
    if count(b"moov") != 1 {
        return Err(malformed("a movie has exactly one moov box"));
    }
    if count(b"mdat") == 0 {
        return Err(malformed("no media data (mdat)"));
    }
    for b in top {
        if CONTAINERS.contains(&&b.kind) {
            walk(data, &mut out, b)?;
        } else if !TOP_LEVEL.contains(&&b.kind) {
            neutralise(&mut out, b);
        }
    }
    Ok(out)
}

/// Neutralises the metadata boxes inside container `parent`, and checks its tracks' handlers.
fn walk(data: &[u8], out: &mut [u8], parent: Box4) -> Result<(), Refused> {
    let children = boxes(data, parent.content, parent.end)?;
    if &parent.kind == b"mdia" {
        let hdlr = children.iter().find(|b| &b.kind == b"hdlr").ok_or_else(|| malformed("a track without hdlr"))?;
        // Version and flags (4), pre-defined (4), then the handler type.
        let handler = data.get(hdlr.content + 8..hdlr.content + 12).filter(|_| hdlr.content + 12 <= hdlr.end);
        let handler: [u8; 4] = handler.and_then(|h| h.try_into().ok()).ok_or_else(|| malformed("a short hdlr box"))?;
        if !HANDLERS.contains(&&handler) {
            return Err(Refused::MetadataTrack(String::from_utf8_lossy(&handler).into_owned()));
        }
    }
    for b in children {
        if &b.kind == b"cmov" {
            return Err(malformed("a compressed movie header (cmov) cannot be checked"));
        }
        if metadata(&b.kind) {
            neutralise(out, b);
        } else if CONTAINERS.contains(&&b.kind) {
            walk(data, out, b)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn mp4_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
        let mut b = u32::try_from(8 + content.len()).expect("small").to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(content);
        b
    }

    fn track(handler: &[u8; 4], udta: bool) -> Vec<u8> {
        let mut hdlr = vec![0; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0; 12]);
        hdlr.extend_from_slice(b"Handler\0");
        let mdia = [mp4_box(b"mdhd", &[0; 24]), mp4_box(b"hdlr", &hdlr), mp4_box(b"minf", &mp4_box(b"stbl", &[]))];
        let mut trak = [mp4_box(b"tkhd", &[0; 84]), mp4_box(b"mdia", &mdia.concat())].concat();
        if udta {
            trak.extend(mp4_box(b"udta", &mp4_box(b"\xA9xyz", b"\0\x12\x15\xc7+29.5570+106.5770/")));
        }
        mp4_box(b"trak", &trak)
    }

    /// A structurally valid MP4 with location in its movie, track and file-level metadata.
    pub fn mp4(handler: &[u8; 4]) -> Vec<u8> {
        let udta = mp4_box(
            b"udta",
            &[mp4_box(b"\xA9xyz", b"\0\x12\x15\xc7+29.5570+106.5770/"), mp4_box(b"\xA9mak", b"\0\x05\0\0Phone")]
                .concat(),
        );
        let meta = mp4_box(b"meta", b"\0\0\0\0com.apple.quicktime.location.ISO6709+29.5570+106.5770/");
        let moov = mp4_box(b"moov", &[mp4_box(b"mvhd", &[0; 100]), track(handler, true), udta, meta].concat());
        let mut xmp = b"\xBE\x7A\xCF\xCB\x97\xA9\x42\xE8\x9C\x71\x99\x94\x91\xE3\xAF\xAC".to_vec();
        xmp.extend_from_slice(b"<x:xmpmeta GPSLatitude='29.557'/>");
        [mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41"), moov, mp4_box(b"uuid", &xmp), mp4_box(b"mdat", b"frames")]
            .concat()
    }

    #[test]
    fn location_boxes_become_free_boxes_of_the_same_size() {
        let original = mp4(b"vide");
        let cleaned = clean(&original).expect("clean");
        assert_eq!(cleaned.len(), original.len(), "no offset moves");
        for gone in [&b"+29.5570"[..], b"udta", b"meta", b"uuid", b"xmpmeta", b"Phone", b"\xA9xyz"] {
            assert!(!cleaned.windows(gone.len()).any(|w| w == gone), "{}", String::from_utf8_lossy(gone));
        }
        assert!(cleaned.windows(6).any(|w| w == b"frames"), "the media data stays");
        assert!(cleaned.windows(4).any(|w| w == b"mvhd") && cleaned.windows(4).any(|w| w == b"tkhd"));
        // It is still a well-formed MP4, and cleaning it again changes nothing.
        assert_eq!(clean(&cleaned).expect("clean again"), cleaned);
    }

    #[test]
    fn a_timed_metadata_track_is_refused() {
        assert_eq!(clean(&mp4(b"meta")), Err(Refused::MetadataTrack("meta".into())));
        assert_eq!(clean(&mp4(b"camm")), Err(Refused::MetadataTrack("camm".into())));
        assert!(clean(&mp4(b"soun")).is_ok());
    }

    #[test]
    fn broken_structures_are_refused() {
        let good = mp4(b"vide");
        assert!(clean(&good[..good.len() - 1]).is_err(), "a box past the end");
        assert!(clean(&good[good.len() - 14..]).is_err(), "no ftyp first");
        let no_mdat = [mp4_box(b"ftyp", b"isom\0\0\0\0"), mp4_box(b"moov", &[])].concat();
        assert!(clean(&no_mdat).is_err());
        let mut zero = mp4_box(b"ftyp", b"isom\0\0\0\0");
        zero.extend_from_slice(&[0, 0, 0, 4, b'm', b'o', b'o', b'v']);
        assert!(clean(&zero).is_err(), "a box smaller than its header");
    }

    proptest::proptest! {
        #[test]
        fn any_box_bytes_are_refused_or_cleaned_never_a_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            let mut data = mp4_box(b"ftyp", b"isom\0\0\0\0");
            data.extend(tail);
            let _ = clean(&data);
        }
    }
}
