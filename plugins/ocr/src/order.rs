//! Element ordering (`engine._run` of the original): turns a raw OCR result
//! (boxes + texts) into the ordered elements whose texts are the parser's
//! `lines`.
//!
//! Blank texts are dropped; elements are stable-sorted by
//! `(min y over the quad, min x over the quad)` with no same-row tolerance.

use serde::Serialize;

/// A quadrilateral: four `(x, y)` points in original-image pixels.
pub type Quad = [[f64; 2]; 4];

/// A raw engine result, as RapidOCR returns it (`None` = attribute absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawResult {
    pub boxes: Option<Vec<Quad>>,
    pub txts: Option<Vec<String>>,
    pub scores: Option<Vec<f64>>,
}

/// One recognized text run and its box.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OcrElement {
    pub text: String,
    #[serde(rename = "box")]
    pub quad: Option<Quad>,
}

impl OcrElement {
    /// The sort key `(min y, min x)`.
    fn key(&self) -> (f64, f64) {
        match &self.quad {
            Some(q) => (
                q.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min),
                q.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
            ),
            None => (0.0, 0.0),
        }
    }
}

/// Orders a raw result into elements (section 5 of the spec).
pub fn order_elements(raw: &RawResult) -> Vec<OcrElement> {
    let Some(txts) = raw.txts.as_ref().filter(|t| !t.is_empty()) else {
        return Vec::new();
    };
    let keep = |t: &String| !crate::numbers::py_strip(t).is_empty();
    match raw.boxes.as_ref().filter(|b| !b.is_empty()) {
        None => txts.iter().filter(|t| keep(t)).map(|t| OcrElement { text: t.clone(), quad: None }).collect(),
        Some(boxes) => {
            let mut els: Vec<OcrElement> = boxes
                .iter()
                .zip(txts.iter())
                .filter(|(_, t)| keep(t))
                .map(|(b, t)| OcrElement { text: t.clone(), quad: Some(*b) })
                .collect();
            // `sort_by` is stable, like Python's `list.sort`.
            els.sort_by(|a, b| {
                let (ka, kb) = (a.key(), b.key());
                ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
            });
            els
        }
    }
}

/// The parser input: element texts in order, unstripped.
pub fn lines_of(elements: &[OcrElement]) -> Vec<String> {
    elements.iter().map(|e| e.text.clone()).collect()
}
