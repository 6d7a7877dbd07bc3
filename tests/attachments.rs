//! Evidence attachments on the in-process stack (real Kafka, Redis and PostgreSQL, the local
//! file store): each kind is sniffed, stripped, hashed and served back; a photo's EXIF GPS is
//! gone from the stored bytes; what is not a photo or a video is refused whatever it is called;
//! an attachment is read by its body and by the readers of a case that references it, and by
//! nobody else (`403`; `404` for an id that names nothing); a raise may reference only its own town's attachments.

use std::io::Cursor;
use std::path::Path;

use image::ImageEncoder as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use whistle_auth::Principal;
use whistle_tests::*;

const OTHER_TOWN: &str = "500103002";
const CREDIT_CODE: &str = "91500103MA60XY312F";

/// The answer to an upload: status, JSON body.
async fn upload(stack: &Stack, who: &Principal, name: &str, declared: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()).mime_str(declared).expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    let resp = stack
        .http
        .post(format!("{}/api/v1/attachments", stack.api))
        .bearer_auth(token(who))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET /api/v1/attachments/{id}`: status, headers, bytes.
async fn download(stack: &Stack, who: &Principal, id: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = stack
        .http
        .get(format!("{}/api/v1/attachments/{id}", stack.api))
        .bearer_auth(token(who))
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.expect("body").to_vec())
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// An EXIF block (big-endian TIFF) as a phone writes one: make, orientation 6 (shot in
/// portrait), and a GPS IFD with 29°33'25.2" N, 106°34'37.2" E (Jiefangbei, Chongqing).
fn exif_with_gps() -> Vec<u8> {
    fn entry(t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        t.extend_from_slice(&tag.to_be_bytes());
        t.extend_from_slice(&kind.to_be_bytes());
        t.extend_from_slice(&count.to_be_bytes());
        t.extend_from_slice(&value);
    }
    let rationals = |parts: [(u32, u32); 3]| -> Vec<u8> {
        parts.iter().flat_map(|(n, d)| n.to_be_bytes().into_iter().chain(d.to_be_bytes())).collect()
    };
    let mut t = b"MM\0\x2A".to_vec();
    t.extend_from_slice(&8u32.to_be_bytes());
    // IFD0 at 8: 3 entries, ends at 50; the make at 50 (14 bytes); the GPS IFD at 64, 4
    // entries, ends at 118; latitude at 118, longitude at 142.
    t.extend_from_slice(&3u16.to_be_bytes());
    entry(&mut t, 0x010F, 2, 13, 50u32.to_be_bytes());
    entry(&mut t, 0x0112, 3, 1, [0, 6, 0, 0]);
    entry(&mut t, 0x8825, 4, 1, 64u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(b"WhistlePhone\0\0");
    t.extend_from_slice(&4u16.to_be_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, 118u32.to_be_bytes());
    entry(&mut t, 0x0003, 2, 2, *b"E\0\0\0");
    entry(&mut t, 0x0004, 5, 3, 142u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend(rationals([(29, 1), (33, 1), (252, 10)]));
    t.extend(rationals([(106, 1), (34, 1), (372, 10)]));
    assert_eq!(t.len(), 166);
    t
}

/// A small picture (a gradient, so encoders have something to encode).
fn pixels() -> image::RgbImage {
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]))
}

fn jpeg_with_gps() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    encoder.set_exif_metadata(exif_with_gps()).expect("jpeg takes exif");
    let img = pixels();
    encoder.write_image(&img, img.width(), img.height(), image::ExtendedColorType::Rgb8).expect("encodes");
    out
}

fn png_with_gps() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
    encoder.set_exif_metadata(exif_with_gps()).expect("png takes exif");
    let img = pixels();
    encoder.write_image(&img, img.width(), img.height(), image::ExtendedColorType::Rgb8).expect("encodes");
    out
}

fn webp_with_gps() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    encoder.set_exif_metadata(exif_with_gps()).expect("webp takes exif");
    let img = pixels();
    encoder.write_image(&img, img.width(), img.height(), image::ExtendedColorType::Rgb8).expect("encodes");
    out
}

fn mp4_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut b = u32::try_from(8 + content.len()).expect("small").to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(content);
    b
}

/// A structurally valid MP4 (one video track) whose movie carries QuickTime's `©xyz` location
/// and Apple's ISO 6709 location key.
fn mp4_with_location() -> Vec<u8> {
    let mut hdlr = vec![0; 8];
    hdlr.extend_from_slice(b"vide");
    hdlr.extend_from_slice(&[0; 12]);
    hdlr.extend_from_slice(b"VideoHandler\0");
    let mdia = [mp4_box(b"mdhd", &[0; 24]), mp4_box(b"hdlr", &hdlr), mp4_box(b"minf", &mp4_box(b"stbl", &[]))].concat();
    let trak = mp4_box(b"trak", &[mp4_box(b"tkhd", &[0; 84]), mp4_box(b"mdia", &mdia)].concat());
    let udta = mp4_box(b"udta", &mp4_box(b"\xA9xyz", b"\0\x12\x15\xc7+29.5570+106.5770/"));
    let meta = mp4_box(b"meta", b"\0\0\0\0com.apple.quicktime.location.ISO6709+29.5570+106.5770/");
    let moov = mp4_box(b"moov", &[mp4_box(b"mvhd", &[0; 100]), trak, udta, meta].concat());
    [mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41"), moov, mp4_box(b"mdat", &[0x42; 4096])].concat()
}

/// The GPS fields an independent EXIF reader (kamadak-exif) finds in a photo.
fn gps_fields(bytes: &[u8]) -> Vec<String> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif
            .fields()
            .filter(|f| f.ifd_num == exif::In::PRIMARY && format!("{}", f.tag).starts_with("GPS"))
            .map(|f| format!("{} = {}", f.tag, f.display_value()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The one stored file of `id` in the test's attachment directory.
fn stored_file(dir: &Path, id: &str) -> Vec<u8> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("reads the attachment directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == id) {
                found.push(path);
            }
        }
    }
    assert_eq!(found.len(), 1, "one stored file for {id}: {found:?}");
    std::fs::read(&found[0]).expect("reads the stored file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_is_stored_without_its_location_and_served_back_with_its_hash() {
    let stack = Stack::start_with_database().await;
    let town = as_town(TOWN);

    let jpeg = jpeg_with_gps();
    assert!(!gps_fields(&jpeg).is_empty(), "the original photo carries GPS");
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("photo.jpg", "image/jpeg", jpeg, "image/jpeg"),
        ("photo.png", "image/png", png_with_gps(), "image/png"),
        ("photo.webp", "image/webp", webp_with_gps(), "image/webp"),
        ("video.mp4", "video/mp4", mp4_with_location(), "video/mp4"),
        // The declared type is ignored: a PNG sent as a JPEG is stored as what it is.
        ("photo.jpg", "image/jpeg", png_with_gps(), "image/png"),
    ];
    for (name, declared, original, expected) in cases {
        let (status, answer) = upload(&stack, &town, name, declared, original.clone()).await;
        assert_eq!(status, 201, "{name} as {declared}: {answer}");
        assert_eq!(answer["content_type"], expected, "{answer}");
        let id = answer["id"].as_str().expect("id");
        let (status, headers, served) = download(&stack, &town, id).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], expected);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let inline = if expected.starts_with("image/") { "inline" } else { "attachment" };
        assert!(headers["content-disposition"].to_str().expect("ascii").starts_with(inline), "{headers:?}");
        assert_eq!(answer["sha256"], sha256(&served), "the hash is of the served bytes");
        assert_eq!(answer["size"], served.len());
        let stored = stored_file(&stack.iso.attachments_dir(), id);
        assert_eq!(stored, served, "served as stored");
        // What a location looks like in each: EXIF's GPS tags, the EXIF block itself, the
        // video's ISO 6709 strings and the phone's name.
        assert!(gps_fields(&stored).is_empty(), "{name}: {:?}", gps_fields(&stored));
        for gone in [&b"WhistlePhone"[..], b"+29.5570", b"\xA9xyz", b"ISO6709"] {
            assert!(!contains(&stored, gone), "{name} still holds {}", String::from_utf8_lossy(gone));
        }
        // Images lose their metadata's bytes; a video keeps its size (its boxes become `free`).
        assert!(stored.len() < original.len() || (expected == "video/mp4" && stored != original), "{name}");
        if expected.starts_with("image/") {
            let decoded = image::load_from_memory(&stored).expect("the stored image decodes");
            assert_eq!((decoded.width(), decoded.height()), (64, 48));
        }
        if expected == "image/jpeg" {
            // The orientation survives, as the only EXIF tag left.
            let exif = exif::Reader::new().read_from_container(&mut Cursor::new(&stored)).expect("orientation exif");
            let fields: Vec<String> = exif.fields().map(|f| f.tag.to_string()).collect();
            assert_eq!(fields, ["Orientation"]);
        }
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_is_not_a_photo_or_a_video_is_refused_whatever_it_is_called() {
    let stack = Stack::start_with_database().await;
    let town = as_town(TOWN);
    let (status, answer) =
        upload(&stack, &town, "photo.jpg", "image/jpeg", b"this is just text, named like a photo\n".to_vec()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{answer}");
    assert!(answer["error"]["message"].as_str().expect("message").contains("JPEG, PNG"), "{answer}");
    let (status, answer) =
        upload(&stack, &town, "scan.jpg", "image/jpeg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec()).await;
    assert_eq!(status, 415, "{answer}");
    assert!(answer["error"]["message"].as_str().expect("message").contains("application/pdf"), "{answer}");
    // JPEG's magic number in front of something that is no JPEG.
    let (status, answer) =
        upload(&stack, &town, "x.jpg", "image/jpeg", b"\xFF\xD8\xFF\xE0 and then garbage".to_vec()).await;
    assert_eq!(status, 415, "{answer}");
    // A photo past 10 MiB: 413, in the error shape, once the limit is passed.
    let mut big = jpeg_with_gps();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, answer) = upload(&stack, &town, "big.jpg", "image/jpeg", big).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (413, Some("body_too_large")), "{answer}");
    assert!(answer["error"]["message"].as_str().expect("message").contains("10 MiB"), "{answer}");
    // Only towns, departments and command centres upload.
    let (status, answer) = upload(&stack, &as_manager(), "p.png", "image/png", png_with_gps()).await;
    assert_eq!(status, 403, "{answer}");
    // Not a multipart body, or no file field.
    let (status, answer) = stack.post_as(&town, "/api/v1/attachments", &json!({"file": "x"})).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("malformed_body")), "{answer}");
    let form = reqwest::multipart::Form::new().text("photo", "x");
    let resp = stack
        .http
        .post(format!("{}/api/v1/attachments", stack.api))
        .bearer_auth(token(&town))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attachment_is_read_by_its_town_and_the_readers_of_a_case_that_references_it() {
    let stack = Stack::start_with_database().await;
    let town = as_town(TOWN);
    let other_town = as_town(OTHER_TOWN);
    let department = as_department(DEPARTMENT);
    let (status, answer) = upload(&stack, &town, "drums.jpg", "image/jpeg", jpeg_with_gps()).await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_str().expect("id").to_owned();
    // Before a case references it: its town only; others are refused (issue M's contract: 403).
    assert_eq!(download(&stack, &town, &id).await.0, 200);
    for who in [&other_town, &department, &as_manager(), &as_admin()] {
        let (status, _, body) = download(&stack, who, &id).await;
        assert_eq!(status, 403, "{who}");
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(download(&stack, &town, &uuid::Uuid::now_v7().to_string()).await.0, 404);
    assert_eq!(download(&stack, &town, "not-an-id").await.0, 404);

    // Another town's attachment, an unknown id and a malformed one are refused on a raise.
    let (_, foreign) = upload(&stack, &other_town, "theirs.png", "image/png", png_with_gps()).await;
    let foreign = foreign["id"].as_str().expect("id").to_owned();
    for bad in [foreign.clone(), uuid::Uuid::now_v7().to_string(), "photo-1".to_owned()] {
        let mut body = raise_body(TOWN, DEPT_ITEM, "drums of waste oil by the river");
        body["attachments"] = json!([id, bad]);
        let (status, answer) = stack.post_as(&town, "/api/v1/whistles", &body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("unknown_attachment")), "{answer}");
        assert!(answer["error"]["message"].as_str().expect("message").contains(&bad), "{answer}");
    }

    // A raise that references it: the department it is routed to reads it; other towns still not.
    let mut body = raise_body(TOWN, DEPT_ITEM, "drums of waste oil by the river");
    body["attachments"] = json!([id]);
    let (status, answer) = stack.post_as(&town, "/api/v1/whistles", &body).await;
    assert_eq!(status, 202, "{answer}");
    let whistle = answer["id"].as_str().expect("id").to_owned();
    let view = stack.wait_for(&whistle, |v| v["status"] == "dispatched").await;
    assert_eq!(view["attachments"], json!([id]), "the case view shows it");
    assert_eq!(view["department"]["code"], DEPARTMENT);
    let (status, headers, bytes) = download(&stack, &department, &id).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert!(gps_fields(&bytes).is_empty());
    assert_eq!(download(&stack, &as_manager(), &id).await.0, 200, "a city manager reads the case");
    assert_eq!(download(&stack, &other_town, &id).await.0, 403);
    assert_eq!(download(&stack, &as_department("500103-PS"), &id).await.0, 403, "not its case");
    // The event on the case topic carries the id.
    let (_, timeline) = stack.get(&format!("/api/v1/whistles/{whistle}")).await;
    assert_eq!(timeline["attachments"], json!([id]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_town_case_and_its_investigation_carry_the_towns_evidence() {
    let stack = Stack::start_with_database().await;
    let town = as_town(TOWN);
    let (_, first) = upload(&stack, &town, "scene.jpg", "image/jpeg", jpeg_with_gps()).await;
    let first = first["id"].as_str().expect("id").to_owned();
    let (_, second) = upload(&stack, &town, "clip.mp4", "video/mp4", mp4_with_location()).await;
    let second = second["id"].as_str().expect("id").to_owned();
    let open = json!({
        "item": TOWN_ITEM, "description": "fire exit blocked by boxes",
        "location": {"lat": 29.56, "lon": 106.57, "address": "解放碑步行街 8 号"},
        "subject": {"kind": "unit", "name": "某商贸有限公司", "credit_code": CREDIT_CODE},
        "attachments": [first],
    });
    let (status, answer) = stack.post_as(&town, "/api/v1/cases", &open).await;
    assert_eq!(status, 202, "{answer}");
    let case = answer["id"].as_str().expect("id").to_owned();
    let (status, _) = stack.get_as(&town, &format!("/api/v1/cases/{case}")).await;
    assert_eq!(status, 200);
    let steps = [
        ("persuade", json!({"outcome": "refused"}), "persuaded"),
        (
            "investigate",
            json!({"officers": [format!("{TOWN}-01"), format!("{TOWN}-02")], "evidence": "photos, a video",
                   "attachments": [second]}),
            "investigated",
        ),
    ];
    let mut view = Value::Null;
    for (step, body, reached) in steps {
        let (status, answer) = stack.post_as(&town, &format!("/api/v1/cases/{case}/{step}"), &body).await;
        assert_eq!(status, 202, "{step}: {answer}");
        // The next step is decided on the case as recorded.
        let deadline = tokio::time::Instant::now() + RECEIVE_TIMEOUT;
        view = loop {
            let (_, view) = stack.get_as(&town, &format!("/api/v1/cases/{case}")).await;
            if view["status"] == reached {
                break view;
            }
            assert!(tokio::time::Instant::now() < deadline, "never {reached}: {view}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
    }
    assert_eq!(view["attachments"], json!([first, second]), "{view}");
    assert_eq!(view["procedure"]["attachments"], json!([first]));
    // The district's command centre reads the case, so its evidence; another town does not.
    let (status, headers, _) = download(&stack, &as_department("500103-CC"), &second).await;
    assert_eq!(
        (status, headers["content-disposition"].to_str().expect("ascii").starts_with("attachment")),
        (200, true)
    );
    assert_eq!(download(&stack, &as_town(OTHER_TOWN), &second).await.0, 403);
    // An investigation may not reference another town's evidence.
    let (_, foreign) = upload(&stack, &as_town(OTHER_TOWN), "x.png", "image/png", png_with_gps()).await;
    let (status, answer) = stack
        .post_as(
            &town,
            "/api/v1/cases",
            &json!({
                "item": TOWN_ITEM, "description": "another", "location": {"lat": 29.56, "lon": 106.57, "address": "解放碑步行街 9 号"},
                "subject": {"kind": "unit", "name": "某商贸有限公司", "credit_code": CREDIT_CODE},
                "attachments": [foreign["id"]],
            }),
        )
        .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("unknown_attachment")), "{answer}");
    stack.stop().await;
}
