//! PNG: the chunks that make the picture (and its colours) are copied byte for byte, CRCs
//! included; text (`tEXt`, `zTXt`, `iTXt`, where XMP lives), EXIF (`eXIf`), the time stamp,
//! private and unknown chunks, and anything after `IEND` go.

use super::Refused;

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Chunks kept: critical ones, transparency, colour space and HDR metadata, background, pixel
/// size, and the animation chunks of APNG. Nothing here can carry free text or a location.
const KEPT: [&[u8; 4]; 18] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV",
    b"cLLI", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn malformed(reason: impl Into<String>) -> Refused {
    Refused::Malformed { kind: "PNG", reason: reason.into() }
}

/// The image of `data` without its metadata.
pub fn clean(data: &[u8]) -> Result<Vec<u8>, Refused> {
    if !data.starts_with(SIGNATURE) {
        return Err(malformed("no PNG signature"));
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(SIGNATURE);
    let mut pos = SIGNATURE.len();
    let mut first = true;
    let mut idat = false;
    loop {
        let header = data.get(pos..pos + 8).ok_or_else(|| malformed("it ends before its IEND chunk"))?;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if length > 0x7FFF_FFFF {
            return Err(malformed(format!("chunk at byte {pos} claims {length} bytes")));
        }
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(malformed(format!("chunk at byte {pos} has no valid type")));
        }
        let end = usize::try_from(length).ok().and_then(|l| pos.checked_add(12 + l)).filter(|e| *e <= data.len());
        let end =
            end.ok_or_else(|| malformed(format!("chunk {} runs past the end", String::from_utf8_lossy(&kind))))?;
        if first && &kind != b"IHDR" {
            return Err(malformed("the first chunk is not IHDR"));
        }
        first = false;
        idat |= &kind == b"IDAT";
        if KEPT.contains(&&kind) {
            out.extend_from_slice(&data[pos..end]);
        }
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    if !idat {
        return Err(malformed("no image data (IDAT)"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut c = u32::try_from(payload.len()).expect("small").to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(payload);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    }

    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        for c in chunks {
            out.extend_from_slice(c);
        }
        out
    }

    #[test]
    fn text_exif_and_unknown_chunks_go() {
        let ihdr = chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let srgb = chunk(b"sRGB", &[0]);
        let idat = chunk(b"IDAT", b"pixels");
        let iend = chunk(b"IEND", b"");
        let original = png(&[
            ihdr.clone(),
            chunk(b"tEXt", b"Comment\0at home"),
            chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta GPS/>"),
            chunk(b"eXIf", b"MM\0\x2AGPS"),
            chunk(b"tIME", &[7, 234, 1, 1, 0, 0, 0]),
            chunk(b"prVt", b"private"),
            srgb.clone(),
            idat.clone(),
            iend.clone(),
            b"appended".to_vec(),
        ]);
        assert_eq!(clean(&original).expect("clean"), png(&[ihdr, srgb, idat, iend]));
    }

    #[test]
    fn broken_structures_are_refused() {
        let ihdr = chunk(b"IHDR", &[0; 13]);
        assert!(clean(&png(&[chunk(b"IDAT", b"x"), chunk(b"IEND", b"")])).is_err(), "IHDR first");
        assert!(clean(&png(&[ihdr.clone(), chunk(b"IEND", b"")])).is_err(), "no IDAT");
        assert!(clean(&png(&[ihdr.clone(), chunk(b"IDAT", b"x")])).is_err(), "no IEND");
        let mut long = png(&[ihdr]);
        long.extend_from_slice(&[0, 0, 0x10, 0, b'I', b'D', b'A', b'T']);
        assert!(clean(&long).is_err(), "a chunk longer than the file");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_after_the_signature_are_refused_or_cleaned_never_a_panic(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            let mut data = SIGNATURE.to_vec();
            data.extend(tail);
            let _ = clean(&data);
        }
    }
}
