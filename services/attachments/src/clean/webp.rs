//! WebP: a RIFF file of chunks. The bitstream (`VP8 `, `VP8L`), alpha, animation and colour
//! profile chunks are copied; `EXIF`, `XMP ` and unknown chunks go, the extended header's
//! EXIF and XMP flags are cleared, and the RIFF size is written anew. Bytes past the RIFF size
//! go too.

use super::Refused;

const KEPT: [&[u8; 4]; 7] = [b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];
/// The EXIF and XMP flags of the `VP8X` header's first byte.
const METADATA_FLAGS: u8 = 0x08 | 0x04;

fn malformed(reason: impl Into<String>) -> Refused {
    Refused::Malformed { kind: "WebP", reason: reason.into() }
}

/// The image of `data` without its metadata.
pub fn clean(data: &[u8]) -> Result<Vec<u8>, Refused> {
    if data.len() < 12 || &data[..4] != b"RIFF" || &data[8..12] != b"WEBP" {
        return Err(malformed("no RIFF WEBP header"));
    }
    let riff = usize::try_from(u32::from_le_bytes([data[4], data[5], data[6], data[7]])).unwrap_or(usize::MAX);
    let end =
        riff.checked_add(8).filter(|e| *e <= data.len()).ok_or_else(|| malformed("it is shorter than it says"))?;
    let mut chunks = Vec::with_capacity(data.len());
    let mut pos = 12;
    let mut first = true;
    let mut image = false;
    while pos < end {
        let header = data.get(pos..pos + 8).filter(|_| pos + 8 <= end);
        let header = header.ok_or_else(|| malformed(format!("a chunk header at byte {pos} runs past the end")))?;
        let kind: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let size = usize::try_from(u32::from_le_bytes([header[4], header[5], header[6], header[7]]))
            .map_err(|_| malformed("a chunk too large"))?;
        let padded = size.checked_add(size & 1).and_then(|s| s.checked_add(pos + 8));
        // A final odd-sized chunk may omit its padding byte.
        let chunk_end = padded.map(|p| p.min(end)).filter(|p| *p >= pos + 8 + size && *p <= end);
        let chunk_end = chunk_end
            .ok_or_else(|| malformed(format!("chunk {} runs past the end", String::from_utf8_lossy(&kind))))?;
        if first && !matches!(&kind, b"VP8 " | b"VP8L" | b"VP8X") {
            return Err(malformed("the first chunk is not VP8, VP8L or VP8X"));
        }
        first = false;
        image |= matches!(&kind, b"VP8 " | b"VP8L" | b"ANMF");
        if KEPT.contains(&&kind) {
            let start = chunks.len();
            chunks.extend_from_slice(&data[pos..pos + 8 + size]);
            if size & 1 == 1 {
                chunks.push(0);
            }
            if &kind == b"VP8X" {
                let flags = chunks.get_mut(start + 8).ok_or_else(|| malformed("an empty VP8X chunk"))?;
                *flags &= !METADATA_FLAGS;
            }
        }
        pos = chunk_end;
    }
    if !image {
        return Err(malformed("no image data"));
    }
    let size = u32::try_from(4 + chunks.len()).map_err(|_| malformed("too large"))?;
    let mut out = Vec::with_capacity(12 + chunks.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend(chunks);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut c = kind.to_vec();
        c.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_le_bytes());
        c.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn webp(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(4 + body.len()).expect("small").to_le_bytes());
        out.extend_from_slice(b"WEBP");
        out.extend(body);
        out
    }

    #[test]
    fn exif_and_xmp_go_and_their_flags_are_cleared() {
        let vp8x = |flags: u8| chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let image = chunk(b"VP8L", b"lossless bits");
        let original = webp(&[
            vp8x(0x20 | 0x08 | 0x04),
            chunk(b"ICCP", b"profile"),
            image.clone(),
            chunk(b"EXIF", b"MM\0\x2AGPS"),
            chunk(b"XMP ", b"<x:xmpmeta GPS/>"),
            chunk(b"ZZZZ", b"unknown"),
        ]);
        let mut with_trailer = original.clone();
        with_trailer.extend_from_slice(b"trailing");
        assert_eq!(clean(&with_trailer).expect("clean"), webp(&[vp8x(0x20), chunk(b"ICCP", b"profile"), image]));
    }

    #[test]
    fn broken_structures_are_refused() {
        assert!(clean(b"RIFF\0\0\0\0WEBP").is_err(), "no image");
        assert!(clean(&webp(&[chunk(b"EXIF", b"x"), chunk(b"VP8 ", b"y")])).is_err(), "EXIF first");
        let mut short = webp(&[chunk(b"VP8 ", b"bits")]);
        short.truncate(short.len() - 2);
        assert!(clean(&short).is_err(), "shorter than its RIFF size");
    }

    proptest::proptest! {
        #[test]
        fn any_chunk_bytes_are_refused_or_cleaned_never_a_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            let mut data = b"RIFF".to_vec();
            data.extend_from_slice(&u32::try_from(4 + tail.len()).expect("small").to_le_bytes());
            data.extend_from_slice(b"WEBP");
            data.extend(tail);
            let _ = clean(&data);
        }
    }
}
