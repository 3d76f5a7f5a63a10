//! `POST /v1/ocr/character` error paths (no OCR engine needed): body cap,
//! content types, multipart without `file`, empty and unreadable uploads,
//! decompression bombs refused from the header, and 503 without the engine.

#![allow(clippy::unwrap_used)] // test helpers panic on broken fixtures

use kiwi_sdk::testing::{TestClient, TestResponse};
use serde_json::{Value, json};

fn client() -> TestClient {
    let c = TestClient::new(kiwi_plugin_ocr::plugin()).as_master();
    // Point the engine at nothing, whatever the environment says.
    c.host().set_config(json!({
        "ort_dylib_path": "/nonexistent/libonnxruntime.so.1.32.0",
        "models_dir": "/nonexistent/models",
    }));
    c
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn multipart(name: &str, ctype: Option<&str>, data: &[u8]) -> (String, Vec<u8>) {
    let b = "XBOUNDARYx";
    let ct = ctype.map(|c| format!("Content-Type: {c}\r\n")).unwrap_or_default();
    let mut body = format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"s.png\"\r\n{ct}\r\n")
        .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

fn send(ct: &str, body: Vec<u8>) -> TestResponse {
    client().post("/character").header("content-type", ct).body(body).send()
}

fn error(res: &TestResponse) -> (u16, String, String) {
    let v: Value = res.json();
    (
        res.status,
        v["error"]["code"].as_str().unwrap_or("").to_owned(),
        v["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn manifest_declares_the_route() {
    let p = kiwi_plugin_ocr::plugin();
    let m = p.manifest();
    let r = &m.routes[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/character"));
    assert_eq!(r.scope.as_deref(), Some("ocr:read"));
    assert_eq!(r.body_limit, Some(12 * 1024 * 1024));
    assert!(!r.summary.is_empty() && !r.description.is_empty());
    let example: Value = serde_json::from_str(r.example.as_deref().unwrap()).unwrap();
    assert_eq!(example["total_known"], 22);
}

#[test]
fn too_large_is_413() {
    let res = send("image/png", vec![0u8; 12 * 1024 * 1024 + 1]);
    assert_eq!(error(&res), (413, "payload_too_large".into(), "Request body exceeds the 12582912-byte limit".into()));
}

#[test]
fn wrong_content_type_is_400() {
    let res = send("application/json", b"{}".to_vec());
    let (status, code, msg) = error(&res);
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(msg.contains("multipart/form-data"), "{msg}");
    let res = client().post("/character").body(png(2, 2)).send();
    assert_eq!(res.status, 400);
}

#[test]
fn unsupported_image_types_are_400() {
    for ct in ["image/tiff", "image/jpg", "image/png; x=y"] {
        let (ctm, body) = multipart("file", Some(ct), &png(2, 2));
        let (status, code, msg) = error(&send(&ctm, body));
        assert_eq!((status, code.as_str()), (400, "bad_request"));
        assert_eq!(msg, format!("Unsupported image type '{ct}'. Allowed: PNG, JPEG, WebP, GIF, BMP."));
        let (status, _, msg) = error(&send(ct, png(2, 2)));
        assert_eq!(status, 400, "{ct}: {msg}");
    }
    // Declared type is upper-cased: compared lower-cased, reported lower-cased.
    let (ctm, body) = multipart("file", Some("IMAGE/TIFF"), &png(2, 2));
    assert!(error(&send(&ctm, body)).2.contains("'image/tiff'"));
}

#[test]
fn missing_file_part_is_422() {
    let (ct, body) = multipart("upload", Some("image/png"), &png(2, 2));
    let res = send(&ct, body);
    let v = res.json();
    assert_eq!(res.status, 422);
    assert_eq!(v["error"]["code"], "validation_error");
    assert_eq!(v["error"]["message"], "Request validation failed");
    assert_eq!(v["error"]["details"][0]["loc"], json!(["body", "file"]));
    assert_eq!(v["error"]["details"][0]["type"], "missing");
}

#[test]
fn empty_upload_is_400() {
    let (ct, body) = multipart("file", Some("image/png"), b"");
    assert_eq!(
        error(&send(&ct, body)),
        (400, "bad_request".into(), "Empty upload - attach a screenshot in the 'file' field.".into())
    );
    assert_eq!(error(&send("image/png", Vec::new())).0, 400);
}

#[test]
fn unreadable_images_are_400() {
    let (ct, body) = multipart("file", Some("image/png"), b"definitely not an image");
    let (status, code, msg) = error(&send(&ct, body));
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(msg.starts_with("unreadable image: "), "{msg}");
    // A truncated PNG.
    let mut p = png(64, 64);
    p.truncate(p.len() / 2);
    let (status, _, msg) = error(&send("image/png", p));
    assert_eq!(status, 400);
    assert!(msg.starts_with("unreadable image: "), "{msg}");
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    // A PNG whose header claims 20 000 × 20 000 pixels (no pixel data at all).
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(&ihdr);
    bytes.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // A tiny IDAT (a stored zlib stream) so the header parses; no real pixel data.
    let idat = b"IDAT\x78\x01\x01\x00\x00\xff\xff\x00\x00\x00\x01";
    bytes.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    bytes.extend_from_slice(idat);
    bytes.extend_from_slice(&crc32(idat).to_be_bytes());
    let (status, code, msg) = error(&send("image/png", bytes));
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert!(msg.contains("exceeds the limit"), "{msg}");
}

#[test]
fn valid_image_without_engine_is_503() {
    let (ct, body) = multipart("file", Some("image/png"), &png(40, 20));
    let (status, code, msg) = error(&send(&ct, body));
    assert_eq!((status, code.as_str()), (503, "plugin_unavailable"));
    assert!(msg.contains("cargo xtask ocr-setup"), "{msg}");
    // No declared part type is accepted; the raw-body form works too.
    let (ct, body) = multipart("file", None, &png(40, 20));
    assert_eq!(error(&send(&ct, body)).0, 503);
    assert_eq!(error(&send("image/png", png(40, 20))).0, 503);
}
