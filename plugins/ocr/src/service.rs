//! The OCR service (`service._process` of the original): engine → ordered
//! lines → parser → recovery pass (re-reading the rows of stats still
//! missing) → `CharacterStatsOcr`.

use serde::Serialize;

use crate::engine::imgproc::{Rgb, resize_lanczos};
use crate::engine::{EngineError, OcrEngine};
use crate::numbers::{parse_number, py_strip};
use crate::order::{OcrElement, Quad, lines_of, order_elements};
use crate::parse::{Overflow, RECOVERED_CONFIDENCE, StatRead, Stats, extract_character_stats, stat_value};
use crate::vocab::vocabulary;

/// `CharacterStatsOcr`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CharacterStatsOcr {
    pub stats: Stats,
    pub matched: usize,
    pub total_known: usize,
    pub lines: Vec<String>,
}

/// Why processing failed (all map to 5xx).
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceError {
    Engine(EngineError),
    /// A Python exception in the original (infinite value): HTTP 500.
    Overflow,
}

impl From<EngineError> for ServiceError {
    fn from(e: EngineError) -> Self {
        ServiceError::Engine(e)
    }
}

impl From<Overflow> for ServiceError {
    fn from(_: Overflow) -> Self {
        ServiceError::Overflow
    }
}

/// Runs the engine and orders its elements (section 5).
pub fn read_elements(engine: &dyn OcrEngine, img: &Rgb) -> Result<Vec<OcrElement>, EngineError> {
    Ok(order_elements(&engine.run(img)?))
}

/// `ocr_row`: re-reads a widened strip around `quad`, upscaled ×4 (LANCZOS).
pub fn ocr_row(engine: &dyn OcrEngine, img: &Rgb, quad: &Quad) -> Result<Vec<String>, EngineError> {
    let (w, h) = (img.w as f64, img.h as f64);
    let min = |i: usize| quad.iter().map(|p| p[i]).fold(f64::INFINITY, f64::min);
    let max = |i: usize| quad.iter().map(|p| p[i]).fold(f64::NEG_INFINITY, f64::max);
    // Python `int()` truncates toward zero.
    let y0 = (min(1).trunc() - 2.0).max(0.0);
    let y1 = (max(1).trunc() + 2.0).min(h);
    let x0 = (min(0) - 0.05 * w).trunc().max(0.0);
    let x1 = (max(0) + 0.30 * w).trunc().min(w);
    if !(y1 > y0 && x1 > x0) {
        return Ok(Vec::new());
    }
    let (x0, y0, x1, y1) = (x0 as usize, y0 as usize, x1 as usize, y1 as usize);
    let crop = img.crop(x0, y0, x1, y1);
    let up = resize_lanczos(&crop, crop.w * 4, crop.h * 4);
    Ok(lines_of(&read_elements(engine, &up)?))
}

/// The full pipeline on a decoded image.
pub fn process(engine: &dyn OcrEngine, img: &Rgb) -> Result<CharacterStatsOcr, ServiceError> {
    let elements = read_elements(engine, img)?;
    let lines = lines_of(&elements);
    let mut stats = extract_character_stats(&lines)?.stats;
    recover_missing(engine, img, &elements, &mut stats)?;
    let vocab = vocabulary();
    Ok(CharacterStatsOcr { matched: stats.len(), total_known: vocab.stats().len(), stats, lines })
}

/// Section 7: for each element whose whole text names a missing stat, re-OCR
/// its row and take the first text that parses as a whole, with the right
/// type and in range (confidence 0.7).
pub fn recover_missing(
    engine: &dyn OcrEngine,
    img: &Rgb,
    elements: &[OcrElement],
    stats: &mut Stats,
) -> Result<(), ServiceError> {
    let vocab = vocabulary();
    let mut missing: Vec<usize> =
        (0..vocab.stats().len()).filter(|&i| vocab.stat(i).is_some_and(|d| !stats.contains(&d.key))).collect();
    if missing.is_empty() {
        return Ok(());
    }
    for el in elements {
        let Some(quad) = el.quad.as_ref() else {
            continue;
        };
        let Some(m) = vocab.match_label(&el.text) else {
            continue;
        };
        if !missing.contains(&m.stat) {
            continue;
        }
        let Some(def) = vocab.stat(m.stat) else {
            continue;
        };
        for text in ocr_row(engine, img, quad)? {
            let Some(n) = parse_number(&text) else {
                continue;
            };
            if n.is_percent != def.is_percent() || !(def.min <= n.value && n.value <= def.max) {
                continue;
            }
            stats.set(
                &def.key,
                StatRead {
                    value: stat_value(vocab, m.stat, n.value)?,
                    unit: if def.is_percent() { "percent" } else { "count" },
                    raw: py_strip(&text).to_owned(),
                    confidence: RECOVERED_CONFIDENCE,
                    in_range: true,
                    type_match: true,
                    derived: false,
                },
            );
            missing.retain(|&s| s != m.stat);
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::RawResult;

    /// A fake engine: the full image yields `full`, any other size yields `row`.
    struct Fake {
        full_w: usize,
        full: RawResult,
        row: RawResult,
    }

    impl OcrEngine for Fake {
        fn run(&self, img: &Rgb) -> Result<RawResult, EngineError> {
            Ok(if img.w == self.full_w { self.full.clone() } else { self.row.clone() })
        }
    }

    fn quad(x0: f64, y0: f64, x1: f64, y1: f64) -> Quad {
        [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn recovery_pass_reads_the_row() {
        let img = Rgb::new(400, 200);
        let fake = Fake {
            full_w: 400,
            full: RawResult {
                boxes: Some(vec![quad(10.0, 10.0, 150.0, 30.0), quad(10.0, 50.0, 150.0, 70.0)]),
                txts: Some(vec!["Rg de pouvoir".into(), "Jump 74".into()]),
                scores: Some(vec![0.9, 0.9]),
            },
            row: RawResult {
                boxes: Some(vec![quad(0.0, 0.0, 50.0, 20.0), quad(60.0, 0.0, 90.0, 20.0)]),
                txts: Some(vec!["Rg de pouvoir".into(), " 53471 ".into()]),
                scores: Some(vec![0.9, 0.9]),
            },
        };
        let out = process(&fake, &img).unwrap();
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(out.matched, 2);
        assert_eq!(v["stats"]["power_rank"]["value"], 53471);
        assert_eq!(v["stats"]["power_rank"]["raw"], "53471");
        assert_eq!(v["stats"]["power_rank"]["confidence"], 0.7);
        assert_eq!(v["lines"], serde_json::json!(["Rg de pouvoir", "Jump 74"]));
    }

    #[test]
    fn row_strip_bounds() {
        // An element at the right edge: the strip is clipped to the image.
        let img = Rgb::new(100, 50);
        let fake = Fake {
            full_w: 100,
            full: RawResult::default(),
            row: RawResult {
                boxes: Some(vec![quad(0.0, 0.0, 5.0, 5.0)]),
                txts: Some(vec!["12".into()]),
                scores: Some(vec![0.9]),
            },
        };
        let texts = ocr_row(&fake, &img, &quad(90.0, 45.0, 100.0, 50.0)).unwrap();
        assert_eq!(texts, vec!["12".to_owned()]);
    }
}
