//! End-to-end: the three reference screenshots through `POST /v1/ocr/character`
//! with the real ONNX engine, compared with `img-N.expected.json`.
//!
//! Needs the runtime and models (`cargo xtask ocr-setup`, or a data dir laid
//! out the same way in `KIWI_DATA_DIR`). Without them the test prints a notice
//! and skips.

#![allow(clippy::unwrap_used)] // test helpers panic on broken fixtures

use kiwi_plugin_ocr::engine::imgproc::{Rgb, resize_lanczos};
use kiwi_plugin_ocr::engine::{OcrConfig, OcrEngine, OnnxEngine};
use kiwi_plugin_ocr::order::{OcrElement, Quad};
use kiwi_plugin_ocr::service::ocr_row;
use kiwi_plugin_ocr::upload::decode_rgb;
use serde_json::{Value, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/ocr/");

const ROWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ocr_rows.json");

fn rows_fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(ROWS).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

/// Pillow's LANCZOS ×4 (the recovery pass upscale), pixel for pixel.
#[test]
fn lanczos_matches_pillow() {
    let f = &rows_fixture()["lanczos"];
    let n = |k: &str| f[k].as_u64().unwrap() as usize;
    let src = Rgb { w: n("w"), h: n("h"), data: hex(f["src"].as_str().unwrap()) };
    let got = resize_lanczos(&src, n("dw"), n("dh"));
    assert_eq!(got.data, hex(f["dst"].as_str().unwrap()));
}

fn engine() -> Option<&'static OnnxEngine> {
    let dir = data_dir()?;
    let loc = OcrConfig { data_dir: Some(dir), ..Default::default() }.locate();
    OnnxEngine::shared(&loc).ok()
}

/// The recovery pass's `ocr_row` re-reads, against the original's.
#[test]
fn ocr_rows_match_the_original() {
    let Some(engine) = engine() else {
        eprintln!("NOTICE: OCR runtime/models not installed; skipping ocr_row comparison");
        return;
    };
    let mut failures = Vec::new();
    let cases = rows_fixture()["cases"].as_array().unwrap().clone();
    for c in &cases {
        let png = std::fs::read(format!("{DIR}{}", c["image"].as_str().unwrap())).unwrap();
        let img = decode_rgb(&png).unwrap();
        let quad: Quad = serde_json::from_value(c["box"].clone()).unwrap();
        let got = ocr_row(engine, &img, &quad).unwrap();
        if json!(got) != c["texts"] {
            failures.push(format!("{} {}: got {got:?}, want {}", c["image"], c["element_text"], c["texts"]));
        }
    }
    eprintln!("ocr_row: {} of {} rows identical", cases.len() - failures.len(), cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Reports (without failing) how close the raw engine output is to the
/// original's `raw_engine_full_image` (texts, boxes, scores).
#[test]
fn raw_engine_report() {
    let Some(engine) = engine() else {
        eprintln!("NOTICE: OCR runtime/models not installed; skipping raw engine report");
        return;
    };
    for n in 1..=5 {
        let Ok(png) = std::fs::read(format!("{DIR}img-{n}.png")) else {
            continue;
        };
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{DIR}img-{n}.expected.json")).unwrap()).unwrap();
        let raw = engine.run(&decode_rgb(&png).unwrap()).unwrap();
        // Engine order (before the section-5 sort), as `raw_engine_full_image`.
        let els: Vec<_> = raw
            .txts
            .clone()
            .unwrap_or_default()
            .into_iter()
            .zip(raw.boxes.clone().unwrap_or_default())
            .map(|(text, quad)| OcrElement { text, quad: Some(quad) })
            .collect();
        let want = expected["raw_engine_full_image"].as_array().cloned().unwrap_or_default();
        let same_text = els.iter().zip(&want).filter(|(e, w)| w["text"] == e.text.as_str()).count();
        let same_box =
            els.iter().zip(&want).filter(|(e, w)| e.quad.map(|q| json!(q)) == Some(w["box"].clone())).count();
        let scores = raw.scores.unwrap_or_default();
        let max_dscore =
            want.iter().zip(&scores).map(|(w, s)| (w["score"].as_f64().unwrap_or(0.0) - s).abs()).fold(0.0, f64::max);
        eprintln!(
            "img-{n}: {} elements (want {}), texts identical {same_text}, boxes identical {same_box}, max |score diff| {max_dscore:.5}",
            els.len(),
            want.len()
        );
    }
}

/// The data dir to use, if one holds the assets.
fn data_dir() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("KIWI_DATA_DIR").map(std::path::PathBuf::from),
        Some(std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"))),
    ];
    candidates.into_iter().flatten().find(|d| {
        let loc = OcrConfig { data_dir: Some(d.clone()), ..Default::default() }.locate();
        OnnxEngine::shared(&loc).is_ok()
    })
}

fn multipart(png: &[u8]) -> (String, Vec<u8>) {
    let boundary = "kiwiOcrTestBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shot.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn screenshots_match_the_original() {
    let Some(dir) = data_dir() else {
        eprintln!(
            "NOTICE: OCR runtime/models not installed (run `cargo xtask ocr-setup` or set \
             KIWI_DATA_DIR); skipping the end-to-end screenshot test"
        );
        return;
    };
    let client = kiwi_sdk::testing::TestClient::new(kiwi_plugin_ocr::plugin()).as_master();
    client.host().set_config(json!({"data_dir": dir.to_string_lossy()}));
    let mut failures = Vec::new();
    let mut checked = 0;
    for n in 1..=5 {
        let png_path = format!("{DIR}img-{n}.png");
        let Ok(png) = std::fs::read(&png_path) else {
            continue;
        };
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{DIR}img-{n}.expected.json")).unwrap()).unwrap();
        let (ct, body) = multipart(&png);
        let started = std::time::Instant::now();
        let res = client.post("/character").header("content-type", &ct).body(body).send();
        eprintln!("img-{n}: {} in {:?}", res.status, started.elapsed());
        checked += 1;
        if res.status != 200 {
            failures.push(format!("img-{n}: status {} {}", res.status, res.text()));
            continue;
        }
        let got = res.json();
        let want = &expected["response"];
        if got["lines"] != want["lines"] {
            failures.push(format!("img-{n}: lines differ\n  got:  {}\n  want: {}", got["lines"], want["lines"]));
        }
        if got["stats"] != want["stats"] || got["matched"] != want["matched"] {
            failures.push(format!("img-{n}: stats differ\n  got:  {}\n  want: {}", got["stats"], want["stats"]));
        }
    }
    assert!(checked > 0, "no screenshots found in {DIR}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
