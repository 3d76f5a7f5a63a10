//! The OCR engine: a port of RapidOCR's default pipeline (PP-OCRv4 mobile
//! det + rec, v2.0 mobile angle classifier) on ONNX Runtime through `ort`.
//!
//! Owns: locating the runtime and the models (plugin config / environment),
//! creating the three sessions once per process, and the pre/post-processing
//! around them (global resize, vertical padding, DB box extraction, crop,
//! angle classification, CTC decoding, score filter, mapping boxes back).

pub mod geometry;
pub mod imgproc;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use self::geometry::{P32, box_score_fast, contour_point_sets, get_mini_boxes, unclip};
use self::imgproc::{Rgb, pad_vertical, resize_linear, rot90_ccw, rot180, warp_quad_cubic};
use crate::order::{Quad, RawResult};

/// File name of the ONNX Runtime library unpacked by `cargo xtask ocr-setup`.
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.32.0";
/// Detection model (also accepted: the rapidocr 3.x name `ch_PP-OCRv4_det_mobile.onnx`).
pub const DET_MODELS: [&str; 2] = ["ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_det_mobile.onnx"];
/// Recognition model.
pub const REC_MODELS: [&str; 2] = ["ch_PP-OCRv4_rec_infer.onnx", "ch_PP-OCRv4_rec_mobile.onnx"];
/// Angle classifier.
pub const CLS_MODELS: [&str; 2] = ["ch_ppocr_mobile_v2.0_cls_infer.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx"];

/// How to install the engine, for the 503 message.
pub const INSTALL_HINT: &str = "run `cargo xtask ocr-setup` (it unpacks libonnxruntime.so.1.32.0 and the RapidOCR PP-OCRv4 models into <data_dir>/ocr/), or set the plugin config keys `ort_dylib_path` / `models_dir` (or the env var ORT_DYLIB_PATH)";

/// Where the runtime and the models are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLocation {
    pub ort_dylib: PathBuf,
    pub models_dir: PathBuf,
}

/// Plugin config keys (all optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct OcrConfig {
    /// Base data directory (default: env `KIWI_DATA_DIR`, else `./data`).
    pub data_dir: Option<PathBuf>,
    /// ONNX Runtime library (default: env `ORT_DYLIB_PATH`, else `<data_dir>/ocr/libonnxruntime.so.1.32.0`).
    pub ort_dylib_path: Option<PathBuf>,
    /// Directory of the three `.onnx` models (default `<data_dir>/ocr/models`).
    pub models_dir: Option<PathBuf>,
}

impl OcrConfig {
    /// Resolves the paths with their fallbacks.
    pub fn locate(&self) -> EngineLocation {
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("KIWI_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let ocr_dir = data_dir.join("ocr");
        let ort_dylib = self
            .ort_dylib_path
            .clone()
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .unwrap_or_else(|| ocr_dir.join(ORT_LIB_NAME));
        let models_dir = self.models_dir.clone().unwrap_or_else(|| ocr_dir.join("models"));
        EngineLocation { ort_dylib, models_dir }
    }
}

/// Why the engine cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// Runtime or models missing / not loadable: the route answers 503.
    Unavailable(String),
    /// Inference failed at run time.
    Failed(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Unavailable(m) | EngineError::Failed(m) => f.write_str(m),
        }
    }
}

/// Anything that turns an RGB image into a raw OCR result (the real engine,
/// or a fake in tests).
pub trait OcrEngine {
    fn run(&self, img: &Rgb) -> Result<RawResult, EngineError>;
}

fn find_model(dir: &Path, names: &[&str]) -> Result<PathBuf, EngineError> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| {
        EngineError::Unavailable(format!(
            "OCR model {} not found in {}: {INSTALL_HINT}",
            names.first().copied().unwrap_or(""),
            dir.display()
        ))
    })
}

/// The ONNX engine: three sessions, created once and reused.
pub struct OnnxEngine {
    det: Mutex<Session>,
    cls: Mutex<Session>,
    rec: Mutex<Session>,
    /// `blank`, the model's characters, then `" "`.
    charset: Vec<String>,
}

impl std::fmt::Debug for OnnxEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEngine").field("charset_len", &self.charset.len()).finish_non_exhaustive()
    }
}

/// Python `str.splitlines()` (no keepends).
fn py_splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(std::mem::take(&mut cur))
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();
static ENGINE: OnceLock<OnnxEngine> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

fn session(env: &ort::environment::Environment, path: &Path) -> Result<Session, EngineError> {
    let fail = |e: String| EngineError::Unavailable(format!("cannot load {}: {e}", path.display()));
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| fail(e.to_string()))
}

impl OnnxEngine {
    /// The process-wide engine, created on first use. A failed attempt is not
    /// cached, so installing the assets later works without a restart.
    pub fn shared(loc: &EngineLocation) -> Result<&'static OnnxEngine, EngineError> {
        if let Some(e) = ENGINE.get() {
            return Ok(e);
        }
        let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = ENGINE.get() {
            return Ok(e);
        }
        let engine = Self::load(loc)?;
        Ok(ENGINE.get_or_init(|| engine))
    }

    fn load(loc: &EngineLocation) -> Result<OnnxEngine, EngineError> {
        let det_path = find_model(&loc.models_dir, &DET_MODELS)?;
        let cls_path = find_model(&loc.models_dir, &CLS_MODELS)?;
        let rec_path = find_model(&loc.models_dir, &REC_MODELS)?;
        let env = match ENVIRONMENT.get() {
            Some(env) => env,
            None => {
                if !loc.ort_dylib.is_file() {
                    return Err(EngineError::Unavailable(format!(
                        "ONNX Runtime library not found at {}: {INSTALL_HINT}",
                        loc.ort_dylib.display()
                    )));
                }
                let env = ort::init_from(&loc.ort_dylib)
                    .map_err(|e| {
                        EngineError::Unavailable(format!(
                            "cannot load ONNX Runtime from {}: {e}; {INSTALL_HINT}",
                            loc.ort_dylib.display()
                        ))
                    })?
                    .with_name("kiwi-ocr")
                    .build()
                    .map_err(|e| EngineError::Unavailable(format!("ONNX Runtime: {e}")))?;
                ENVIRONMENT.get_or_init(|| env)
            }
        };
        let det = session(env, &det_path)?;
        let cls = session(env, &cls_path)?;
        let rec = session(env, &rec_path)?;
        let chars = rec.metadata().ok().and_then(|m| m.custom("character")).ok_or_else(|| {
            EngineError::Unavailable(format!("{} has no `character` metadata (wrong model?)", rec_path.display()))
        })?;
        let mut charset = vec!["blank".to_owned()];
        charset.extend(py_splitlines(&chars));
        charset.push(" ".to_owned());
        Ok(OnnxEngine { det: Mutex::new(det), cls: Mutex::new(cls), rec: Mutex::new(rec), charset })
    }
}

fn run_model(
    session: &Mutex<Session>,
    shape: [usize; 4],
    data: Vec<f32>,
) -> Result<(Vec<usize>, Vec<f32>), EngineError> {
    let fail = |e: String| EngineError::Failed(format!("inference failed: {e}"));
    let tensor = Tensor::from_array((shape, data)).map_err(|e| fail(e.to_string()))?;
    let mut s = session.lock().unwrap_or_else(|p| p.into_inner());
    let outputs = s.run(ort::inputs![tensor]).map_err(|e| fail(e.to_string()))?;
    let first = outputs.values().next().ok_or_else(|| fail("no output".into()))?;
    let (shape, values) = first.try_extract_tensor::<f32>().map_err(|e| fail(e.to_string()))?;
    let dims = shape.iter().map(|&d| d.max(0) as usize).collect();
    Ok((dims, values.to_vec()))
}

/// Python `round(x)` on a float, half to even, as an integer.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// RapidOCR `reduce_max_side` / `increase_min_side` target size.
fn resize_to_32(h: usize, w: usize, ratio: f64) -> (usize, usize) {
    let rh = (h as f64 * ratio) as i64;
    let rw = (w as f64 * ratio) as i64;
    let rh = py_round(rh as f64 / 32.0) * 32;
    let rw = py_round(rw as f64 / 32.0) * 32;
    (rh.max(0) as usize, rw.max(0) as usize)
}

/// `preprocess`: cap the longer side at 2000, lift the shorter side to 30.
fn global_resize(img: &Rgb) -> Result<(Rgb, f64, f64), EngineError> {
    let mut cur = img.clone();
    let (mut ratio_h, mut ratio_w) = (1.0, 1.0);
    let (h, w) = (cur.h, cur.w);
    if h.max(w) > 2000 {
        let ratio = if h > w { 2000.0 / h as f64 } else { 2000.0 / w as f64 };
        let (rh, rw) = resize_to_32(h, w, ratio);
        if rh == 0 || rw == 0 {
            return Err(EngineError::Failed("image too small to resize".into()));
        }
        cur = resize_linear(&cur, rw, rh);
        ratio_h = h as f64 / rh as f64;
        ratio_w = w as f64 / rw as f64;
    }
    let (h, w) = (cur.h, cur.w);
    if h.min(w) < 30 {
        let ratio = if h < w { 30.0 / h as f64 } else { 30.0 / w as f64 };
        let (rh, rw) = resize_to_32(h, w, ratio);
        if rh == 0 || rw == 0 {
            return Err(EngineError::Failed("image too small to resize".into()));
        }
        cur = resize_linear(&cur, rw, rh);
        ratio_h = h as f64 / rh as f64;
        ratio_w = w as f64 / rw as f64;
    }
    Ok((cur, ratio_h, ratio_w))
}

/// Normalizes to NCHW float32 the way the detector's pre-processing does:
/// `(x * (1/255) as float32 - 0.5) / 0.5`.
fn det_tensor(img: &Rgb) -> Vec<f32> {
    let scale = (1.0f64 / 255.0) as f32;
    let plane = img.w * img.h;
    let mut out = vec![0f32; plane * 3];
    for i in 0..plane {
        for c in 0..3 {
            let v = f32::from(img.data.get(i * 3 + c).copied().unwrap_or(0)) * scale;
            if let Some(o) = out.get_mut(c * plane + i) {
                *o = ((f64::from(v) - 0.5) / 0.5) as f32;
            }
        }
    }
    out
}

impl OnnxEngine {
    fn detect(&self, img: &Rgb) -> Result<Vec<[P32; 4]>, EngineError> {
        let (h, w) = (img.h, img.w);
        let ratio = if h.min(w) < 736 { if h < w { 736.0 / h as f64 } else { 736.0 / w as f64 } } else { 1.0 };
        let (rh, rw) = resize_to_32(h, w, ratio);
        if rh == 0 || rw == 0 {
            return Ok(Vec::new());
        }
        let resized = resize_linear(img, rw, rh);
        let (dims, pred) = run_model(&self.det, [1, 3, rh, rw], det_tensor(&resized))?;
        let (ph, pw) = match dims.as_slice() {
            [_, _, ph, pw] => (*ph, *pw),
            _ => return Err(EngineError::Failed("unexpected detector output".into())),
        };
        let pred = pred.get(..ph * pw).unwrap_or(&[]);
        // Threshold, then dilate with a 2×2 kernel (anchor at (1, 1)).
        let seg: Vec<bool> = pred.iter().map(|&p| p > 0.3).collect();
        let mut mask = vec![0u8; ph * pw];
        for y in 0..ph {
            for x in 0..pw {
                let on = |xx: usize, yy: usize| seg.get(yy * pw + xx).copied().unwrap_or(false);
                let v = on(x, y)
                    || (x > 0 && on(x - 1, y))
                    || (y > 0 && on(x, y - 1))
                    || (x > 0 && y > 0 && on(x - 1, y - 1));
                if let Some(m) = mask.get_mut(y * pw + x) {
                    *m = u8::from(v);
                }
            }
        }
        let mut boxes = Vec::new();
        for contour in contour_point_sets(&mask, pw, ph).into_iter().take(1000) {
            let pts: Vec<[f32; 2]> = contour.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
            let (quad, sside) = get_mini_boxes(&pts);
            if sside < 3.0 {
                continue;
            }
            let score = box_score_fast(pred, pw, ph, &quad);
            if 0.5 > score {
                continue;
            }
            let expanded = unclip(&quad, 1.6);
            if expanded.is_empty() {
                continue;
            }
            let (quad, sside) = get_mini_boxes(&expanded);
            if sside < 5.0 {
                continue;
            }
            let scale = |v: f32, size: usize, dest: usize| -> f32 {
                ((v / size as f32) * dest as f32).round_ties_even().clamp(0.0, dest as f32)
            };
            let b: [[i32; 2]; 4] = quad.map(|p| [scale(p[0], pw, w) as i32, scale(p[1], ph, h) as i32]);
            // filter_tag_det_res: order clockwise, clip, drop thin boxes.
            let mut b = order_points_clockwise(b);
            for p in &mut b {
                p[0] = p[0].max(0.0).min(w as f32 - 1.0).trunc();
                p[1] = p[1].max(0.0).min(h as f32 - 1.0).trunc();
            }
            let norm = |a: P32, c: P32| ((a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2)).sqrt();
            let rect_w = norm(b[0], b[1]) as i64;
            let rect_h = norm(b[0], b[3]) as i64;
            if rect_w <= 3 || rect_h <= 3 {
                continue;
            }
            boxes.push(b);
        }
        Ok(boxes)
    }

    fn classify(&self, crops: &mut [Rgb]) -> Result<(), EngineError> {
        let order = aspect_order(crops);
        for chunk in order.chunks(6) {
            let n = chunk.len();
            let mut data = vec![0f32; n * 3 * 48 * 192];
            for (bi, &ci) in chunk.iter().enumerate() {
                let Some(img) = crops.get(ci) else { continue };
                let ratio = img.w as f64 / img.h.max(1) as f64;
                let rw = ((48.0 * ratio).ceil() as usize).clamp(1, 192);
                let resized = resize_linear(img, rw, 48);
                write_normalized(&resized, &mut data[bi * 3 * 48 * 192..], 192);
            }
            let (dims, probs) = run_model(&self.cls, [n, 3, 48, 192], data)?;
            let k = dims.get(1).copied().unwrap_or(2).max(1);
            for (bi, &ci) in chunk.iter().enumerate() {
                let row = probs.get(bi * k..bi * k + k).unwrap_or(&[]);
                let (idx, score) = argmax(row);
                if idx == 1
                    && score > 0.9
                    && let Some(img) = crops.get_mut(ci)
                {
                    *img = rot180(img);
                }
            }
        }
        Ok(())
    }

    fn recognize(&self, crops: &[Rgb]) -> Result<Vec<(String, f64)>, EngineError> {
        let mut res = vec![(String::new(), 0.0); crops.len()];
        let order = aspect_order(crops);
        for chunk in order.chunks(6) {
            let n = chunk.len();
            let mut max_ratio = 320.0 / 48.0;
            for &ci in chunk {
                if let Some(img) = crops.get(ci) {
                    max_ratio = f64::max(max_ratio, img.w as f64 / img.h.max(1) as f64);
                }
            }
            let width = (48.0 * max_ratio) as usize;
            let mut data = vec![0f32; n * 3 * 48 * width];
            for (bi, &ci) in chunk.iter().enumerate() {
                let Some(img) = crops.get(ci) else { continue };
                let ratio = img.w as f64 / img.h.max(1) as f64;
                let rw = ((48.0 * ratio).ceil() as usize).clamp(1, width);
                let resized = resize_linear(img, rw, 48);
                write_normalized(&resized, &mut data[bi * 3 * 48 * width..], width);
            }
            let (dims, probs) = run_model(&self.rec, [n, 3, 48, width], data)?;
            let (t, c) = match dims.as_slice() {
                [_, t, c] => (*t, *c),
                _ => return Err(EngineError::Failed("unexpected recognizer output".into())),
            };
            for (bi, &ci) in chunk.iter().enumerate() {
                let steps: Vec<(usize, f32)> =
                    (0..t).map(|s| argmax(probs.get((bi * t + s) * c..(bi * t + s + 1) * c).unwrap_or(&[]))).collect();
                if let Some(slot) = res.get_mut(ci) {
                    *slot = ctc_decode(&steps, &self.charset);
                }
            }
        }
        Ok(res)
    }
}

/// First index of the maximum (numpy `argmax`) and the maximum.
fn argmax(row: &[f32]) -> (usize, f32) {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &v) in row.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// Greedy CTC decoding: drop repeats and the blank (index 0). The score is
/// the mean of the kept step probabilities (each rounded to 5 decimals),
/// rounded to 5 decimals; 0 for an empty text.
pub fn ctc_decode(steps: &[(usize, f32)], charset: &[String]) -> (String, f64) {
    let mut text = String::new();
    let mut confs = Vec::new();
    let mut prev: Option<usize> = None;
    for &(idx, p) in steps {
        let dup = prev == Some(idx);
        prev = Some(idx);
        if dup || idx == 0 {
            continue;
        }
        if let Some(ch) = charset.get(idx) {
            text.push_str(ch);
        }
        confs.push(crate::pymath::round_to(f64::from(p), 5));
    }
    if confs.is_empty() {
        return (text, 0.0);
    }
    let mean = confs.iter().sum::<f64>() / confs.len() as f64;
    (text, crate::pymath::round_to(mean, 5))
}

/// Crop indices sorted by width/height ratio (stable).
fn aspect_order(crops: &[Rgb]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    let ratio = |i: usize| crops.get(i).map_or(0.0, |c| c.w as f64 / c.h.max(1) as f64);
    order.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)));
    order
}

/// Writes `(x/255 - 0.5)/0.5` (float32 steps) as CHW into `out`, padded with
/// zeros to `width` columns.
fn write_normalized(img: &Rgb, out: &mut [f32], width: usize) {
    let plane = 48 * width;
    for y in 0..img.h.min(48) {
        for x in 0..img.w.min(width) {
            for c in 0..3 {
                let mut v = f32::from(img.at(x, y, c)) / 255.0;
                v -= 0.5;
                v /= 0.5;
                if let Some(o) = out.get_mut(c * plane + y * width + x) {
                    *o = v;
                }
            }
        }
    }
}

/// `order_points_clockwise` on integer points: (tl, tr, br, bl) as float32.
fn order_points_clockwise(pts: [[i32; 2]; 4]) -> [P32; 4] {
    let mut xs: Vec<[i32; 2]> = pts.to_vec();
    xs.sort_by_key(|p| p[0]);
    let mut left = [xs[0], xs[1]];
    let mut right = [xs[2], xs[3]];
    left.sort_by_key(|p| p[1]);
    right.sort_by_key(|p| p[1]);
    let f = |p: [i32; 2]| [p[0] as f32, p[1] as f32];
    [f(left[0]), f(right[0]), f(right[1]), f(left[1])]
}

/// RapidOCR's `sorted_boxes`: by top-left (y, x), then bubble boxes on the
/// same line (|dy| < 10) into x order.
fn sorted_boxes(mut boxes: Vec<[P32; 4]>) -> Vec<[P32; 4]> {
    boxes.sort_by(|a, b| a[0][1].total_cmp(&b[0][1]).then(a[0][0].total_cmp(&b[0][0])));
    let n = boxes.len();
    for i in 0..n.saturating_sub(1) {
        let mut j = i as isize;
        while j >= 0 {
            let ju = j as usize;
            if (boxes[ju + 1][0][1] - boxes[ju][0][1]).abs() < 10.0 && boxes[ju + 1][0][0] < boxes[ju][0][0] {
                boxes.swap(ju, ju + 1);
            } else {
                break;
            }
            j -= 1;
        }
    }
    boxes
}

/// `get_rotate_crop_image`.
fn crop_box(img: &Rgb, quad: &[P32; 4]) -> Rgb {
    let norm = |a: P32, b: P32| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let w = norm(quad[0], quad[1]).max(norm(quad[2], quad[3])) as usize;
    let h = norm(quad[0], quad[3]).max(norm(quad[1], quad[2])) as usize;
    let crop = warp_quad_cubic(img, quad, w, h);
    if w > 0 && h as f64 / w as f64 >= 1.5 { rot90_ccw(&crop) } else { crop }
}

impl OcrEngine for OnnxEngine {
    fn run(&self, img: &Rgb) -> Result<RawResult, EngineError> {
        if img.w == 0 || img.h == 0 {
            return Ok(RawResult::default());
        }
        let (raw_h, raw_w) = (img.h as f32, img.w as f32);
        let (work, ratio_h, ratio_w) = global_resize(img)?;
        // Vertical padding for flat or thin images.
        let (h, w) = (work.h, work.w);
        let pad = if h <= 30 || w as f64 / h as f64 > 8.0 {
            let new_h = (((w as f64 / 8.0) as i64).max(30)) * 2;
            ((new_h - h as i64).abs() as f64 / 2.0) as usize
        } else {
            0
        };
        let work = if pad > 0 { pad_vertical(&work, pad) } else { work };
        let boxes = self.detect(&work)?;
        if boxes.is_empty() {
            return Ok(RawResult::default());
        }
        let boxes = sorted_boxes(boxes);
        let mut crops: Vec<Rgb> = boxes.iter().map(|b| crop_box(&work, b)).collect();
        self.classify(&mut crops)?;
        let rec = self.recognize(&crops)?;
        let (rh, rw) = (ratio_h as f32, ratio_w as f32);
        let mut out = RawResult { boxes: Some(Vec::new()), txts: Some(Vec::new()), scores: Some(Vec::new()) };
        for (b, (text, score)) in boxes.iter().zip(rec) {
            if score < 0.5 || crate::numbers::py_strip(&text).is_empty() {
                continue;
            }
            let q: Quad = b.map(|p| {
                let x = (p[0] * rw).max(0.0).min(raw_w);
                let y = ((p[1] - pad as f32) * rh).max(0.0).min(raw_h);
                [f64::from(x), f64::from(y)]
            });
            if let (Some(bs), Some(ts), Some(ss)) = (out.boxes.as_mut(), out.txts.as_mut(), out.scores.as_mut()) {
                bs.push(q);
                ts.push(text);
                ss.push(score);
            }
        }
        if out.txts.as_ref().is_none_or(Vec::is_empty) {
            return Ok(RawResult::default());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_like_python() {
        assert_eq!(py_splitlines("a\nb\r\nc\rd\u{2028}e"), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(py_splitlines("a\n"), vec!["a"]);
        assert_eq!(py_splitlines("a\n\nb"), vec!["a", "", "b"]);
    }

    #[test]
    fn ctc_drops_repeats_and_blank() {
        let cs: Vec<String> = ["blank", "a", "b", " "].iter().map(|s| s.to_string()).collect();
        let (t, s) = ctc_decode(&[(1, 0.9), (1, 0.8), (0, 0.99), (1, 0.7), (2, 0.6)], &cs);
        assert_eq!(t, "aab");
        assert_eq!(s, 0.73333);
        assert_eq!(ctc_decode(&[(0, 0.9)], &cs), (String::new(), 0.0));
    }

    #[test]
    fn missing_assets_are_unavailable() {
        let loc = EngineLocation {
            ort_dylib: PathBuf::from("/nonexistent/libonnxruntime.so"),
            models_dir: PathBuf::from("/nonexistent/models"),
        };
        match OnnxEngine::shared(&loc) {
            Err(EngineError::Unavailable(m)) => assert!(m.contains("ocr-setup"), "{m}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
