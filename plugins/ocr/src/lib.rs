//! `ocr`: reads Trove character-sheet stats from a screenshot
//! (`POST /v1/ocr/character`), a port of KiwiAPI's OCR surface.
//!
//! Native tier (trusted, loaded as an abi_stable library). The parser
//! ([`parse`], [`vocab`], [`numbers`], [`difflib`], [`order`]) is pure Rust;
//! the engine ([`engine`]: RapidOCR's PP-OCRv4 models on ONNX Runtime) is
//! loaded at run time from the paths in the plugin config, and the route
//! answers 503 `plugin_unavailable` until they are installed
//! (`cargo xtask ocr-setup`).
//!
//! Plugin config (all optional): `data_dir` (default env `KIWI_DATA_DIR`,
//! else `./data`), `ort_dylib_path` (default env `ORT_DYLIB_PATH`, else
//! `<data_dir>/ocr/libonnxruntime.so.1.32.0`), `models_dir` (default
//! `<data_dir>/ocr/models`).

pub mod difflib;
pub mod engine;
pub mod numbers;
pub mod order;
pub mod parse;
pub mod pymath;
pub mod service;
pub mod upload;
pub mod vocab;

use kiwi_sdk::prelude::*;

use crate::engine::{EngineError, OcrConfig, OnnxEngine};
use crate::service::{CharacterStatsOcr, ServiceError};

const DESCRIPTION: &str = "Upload a screenshot of the in-game character sheet (English or French \
client). The text is read with RapidOCR's PP-OCRv4 models and the 22 known stats are extracted \
from a closed vocabulary with fuzzy label matching. Send either `multipart/form-data` with the \
image in a part named `file` (as the original API), or the raw image bytes with `Content-Type: \
image/png`, `image/jpeg`, `image/webp`, `image/gif` or `image/bmp`. The format is sniffed from \
the bytes. Limits: 12 MiB per request (413), 178,956,970 pixels per image (400). Errors: 400 for \
a declared type outside that list, another content type, an empty file or an unreadable image \
(`unreadable image: ...`); 422 when the multipart body has no `file` part; 503 \
`plugin_unavailable` when the OCR runtime or models are not installed on the server. Each stat \
carries `value` (integer counts, float percentages), `unit`, the `raw` token, a `confidence` in \
0..1 (lowered for out-of-range or type-mismatched reads, 0.85× for a value found on a nearby \
line, 0.7 for one recovered by re-reading its row), `in_range`, `type_match` and `derived` (true \
for a Coefficient computed from damage and critical damage when it was not read). A shown \
Coefficient that contradicts the game formula keeps its value with its confidence halved. \
`lines` lists the recognized texts in reading order. Nothing is stored.";

const EXAMPLE: &str = r#"{"stats":{"physical_damage":{"value":1285094,"unit":"count","raw":"1,285,094","confidence":0.966,"in_range":true,"type_match":true,"derived":false},"critical_damage":{"value":4582.5,"unit":"percent","raw":"4,582.5%","confidence":0.97,"in_range":true,"type_match":true,"derived":false},"coefficient":{"value":60174526,"unit":"count","raw":"","confidence":0.966,"in_range":true,"type_match":true,"derived":true}},"matched":3,"total_known":22,"lines":["1,285,094PhysicalDamage","4,582.5%CriticalDamage"]}"#;

/// `POST /character`.
fn read_character(headers: Headers, Body(body): Body, ctx: Ctx) -> Result<Json<CharacterStatsOcr>> {
    let bytes = upload::extract_image(headers.get("content-type"), &body)?;
    // Decoded before the engine is loaded: garbage is a 400 even without the engine.
    let img = upload::decode_rgb(bytes)?;
    let config: OcrConfig = ctx.config().unwrap_or_default();
    let engine = OnnxEngine::shared(&config.locate()).map_err(engine_error)?;
    match service::process(engine, &img) {
        Ok(out) => Ok(Json(out)),
        Err(ServiceError::Engine(e)) => Err(engine_error(e)),
        Err(ServiceError::Overflow) => Err(Error::internal("Internal server error")),
    }
}

fn engine_error(e: EngineError) -> Error {
    match e {
        EngineError::Unavailable(m) => Error::unavailable(format!("OCR engine is not available on this server: {m}")),
        EngineError::Failed(m) => Error::internal(format!("OCR engine failed: {m}")),
    }
}

pub fn plugin() -> Plugin {
    Plugin::new("ocr", env!("CARGO_PKG_VERSION"))
        .description("Reads character stats from a Trove character-sheet screenshot.")
        .scope("ocr:read", "Read character stats from screenshots")
        .route(
            post("/character", read_character)
                .token("ocr:read")
                .body_limit(upload::MAX_BODY_BYTES as u64)
                .summary("Read character stats from a screenshot")
                .description(DESCRIPTION)
                .example(EXAMPLE),
        )
}

kiwi_sdk::export_native!(plugin);
