//! The request side of `POST /v1/ocr/character`: body size cap, content
//! types, multipart parsing (`file` part) and image decoding with a pixel
//! cap checked from the header before any pixel buffer is allocated.

use std::io::Cursor;

use kiwi_sdk::Error;
use serde_json::json;

use crate::engine::imgproc::Rgb;

/// `settings.ocr_max_request_body_bytes` (12 MiB).
pub const MAX_BODY_BYTES: usize = 12 * 1024 * 1024;
/// Pillow's `DecompressionBombError` threshold (2 × 89,478,485 pixels).
pub const MAX_PIXELS: u64 = 2 * 89_478_485;
/// Declared types accepted for the file (exact, lower-cased).
pub const ALLOWED_TYPES: [&str; 5] = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"];

fn unsupported_type(ctype: &str) -> Error {
    Error::bad_request(format!("Unsupported image type '{ctype}'. Allowed: PNG, JPEG, WebP, GIF, BMP."))
}

fn empty_upload() -> Error {
    Error::bad_request("Empty upload - attach a screenshot in the 'file' field.")
}

fn missing_file() -> Error {
    Error::validation(vec![json!({
        "type": "missing",
        "loc": ["body", "file"],
        "msg": "Field required",
        "input": null,
    })])
}

/// Splits `type/subtype; k=v; ...` into the lower-cased bare type and params.
fn parse_media_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let bare = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    (bare, params)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// One multipart part.
#[derive(Debug)]
struct Part<'a> {
    name: Option<String>,
    content_type: Option<String>,
    body: &'a [u8],
}

fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, Error> {
    let malformed = || Error::bad_request("Malformed multipart/form-data body");
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let mut pos = find(body, delim.as_bytes(), 0).ok_or_else(malformed)? + delim.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(pos..).ok_or_else(malformed)?;
        if rest.starts_with(b"--") {
            break;
        }
        // Skip transport padding up to the end of the delimiter line.
        let line_end = find(body, b"\r\n", pos).ok_or_else(malformed)?;
        let head_start = line_end + 2;
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(body.get(head_start..head_end).unwrap_or(&[]));
        let content_start = head_end + 4;
        let content_end = find(body, next_delim.as_bytes(), content_start).ok_or_else(malformed)?;
        let mut part =
            Part { name: None, content_type: None, body: body.get(content_start..content_end).unwrap_or(&[]) };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            if k == "content-disposition" {
                let (_, params) = parse_media_type(v);
                part.name = params.into_iter().find(|(k, _)| k == "name").map(|(_, v)| v);
            } else if k == "content-type" {
                part.content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(part);
        pos = content_end + next_delim.len();
    }
    Ok(parts)
}

/// Extracts the uploaded image bytes from a request.
///
/// * `multipart/form-data`: the part named `file` (422 when absent); its
///   declared type, when present, must be one of [`ALLOWED_TYPES`].
/// * `image/png|jpeg|webp|gif|bmp`: the raw body is the image (Kiwi extension).
/// * anything else: 400 `bad_request`.
pub fn extract_image<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<&'a [u8], Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::payload_too_large(format!("Request body exceeds the {MAX_BODY_BYTES}-byte limit")));
    }
    let raw_ct = content_type.unwrap_or("").trim();
    let (bare, params) = parse_media_type(raw_ct);
    if bare == "multipart/form-data" {
        let boundary = params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.as_str())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::bad_request("Malformed multipart/form-data body: no boundary"))?;
        let parts = parse_multipart(body, boundary)?;
        let file = parts.into_iter().find(|p| p.name.as_deref() == Some("file")).ok_or_else(missing_file)?;
        let ctype = file.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        if !ctype.is_empty() && !ALLOWED_TYPES.contains(&ctype.as_str()) {
            return Err(unsupported_type(&ctype));
        }
        if file.body.is_empty() {
            return Err(empty_upload());
        }
        return Ok(file.body);
    }
    if bare.starts_with("image/") {
        let ctype = raw_ct.to_ascii_lowercase();
        if !ALLOWED_TYPES.contains(&ctype.as_str()) {
            return Err(unsupported_type(&ctype));
        }
        if body.is_empty() {
            return Err(empty_upload());
        }
        return Ok(body);
    }
    Err(Error::bad_request(format!(
        "Unsupported content type '{raw_ct}': send multipart/form-data with the screenshot in a \
         'file' part, or the raw image bytes with Content-Type image/png, image/jpeg, \
         image/webp, image/gif or image/bmp."
    )))
}

fn unreadable(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("unreadable image: {msg}"))
}

/// Decodes PNG/JPEG/WebP/GIF/BMP (sniffed, whatever the declared type) to
/// RGB: alpha dropped (not composited), first frame of animations, no EXIF
/// rotation. The pixel count is checked from the header first.
pub fn decode_rgb(bytes: &[u8]) -> Result<Rgb, Error> {
    let reader = || image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(unreadable);
    let probe = reader()?;
    if probe.format().is_none() {
        return Err(unreadable("cannot identify image file"));
    }
    let (w, h) = probe.into_dimensions().map_err(decode_error)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(unreadable(format!(
            "image size ({w} x {h} = {pixels} pixels) exceeds the limit of {MAX_PIXELS} pixels"
        )));
    }
    let mut full = reader()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // RGBA16 of the checked size plus decoder slack.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(64 << 20));
    full.limits(limits);
    let img = full.decode().map_err(decode_error)?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Ok(Rgb { w, h, data: rgb.into_raw() })
}

fn decode_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Unsupported(_) => unreadable("cannot identify image file"),
        image::ImageError::Limits(l) => unreadable(format!("image too large: {l}")),
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            unreadable("image file is truncated")
        }
        other => unreadable(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_file_part() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--XyZ--\r\n";
        let got = extract_image(Some("multipart/form-data; boundary=XyZ"), body).unwrap();
        assert_eq!(got, b"PNGDATA");
    }

    #[test]
    fn media_type_rules() {
        assert_eq!(extract_image(Some("image/png"), b"x").unwrap(), b"x");
        let e = extract_image(Some("image/jpg"), b"x").unwrap_err();
        assert_eq!(e.status, 400);
        let e = extract_image(Some("image/png; x=y"), b"x").unwrap_err();
        assert!(e.message.contains("'image/png; x=y'"), "{}", e.message);
        let e = extract_image(Some("application/json"), b"{}").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        let e = extract_image(None, b"").unwrap_err();
        assert_eq!(e.status, 400);
    }
}
