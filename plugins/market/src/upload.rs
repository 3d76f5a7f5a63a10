//! The ingest upload: a small, bounded `multipart/form-data` parser that extracts the
//! `file` part, the raw-body convenience path (`text/plain`, `application/octet-stream`
//! or no content type), and the input checks done before anything is parsed or stored
//! (empty upload, binary data, over-long lines).

use kiwi_sdk::Error;
use serde_json::json;

/// Longest accepted line of the dump, in bytes.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// At most this many parts are looked at in a multipart body.
const MAX_PARTS: usize = 32;
/// At most this many bytes of headers per part.
const MAX_PART_HEADER_BYTES: usize = 16 * 1024;
/// RFC 2046 allows 70; be a little lenient.
const MAX_BOUNDARY_LEN: usize = 200;

/// The message the original returns for an empty upload.
pub const EMPTY_UPLOAD: &str = "Empty upload - POST the raw cfg text as a multipart 'file' field.";

/// `400 bad_request` naming the `file` field.
fn file_error(message: String, reason: &str) -> Error {
    Error::bad_request(message).with_details(json!({"field": "file", "reason": reason}))
}

/// `422` for a missing `file` part, as FastAPI reports a missing `File(...)`.
fn missing_file() -> Error {
    Error::validation(vec![json!({
        "type": "missing",
        "loc": ["body", "file"],
        "msg": "Field required",
        "input": null,
    })])
}

/// A `Content-Type` header split into its lower-cased media type and its parameters.
fn parse_content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    (media, params)
}

/// Linear-time substring search (Knuth–Morris–Pratt), so an adversarial body cannot make
/// the boundary search quadratic.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from);
    }
    let mut fail = vec![0usize; needle.len()];
    let mut k = 0;
    for i in 1..needle.len() {
        while k > 0 && needle.get(i) != needle.get(k) {
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
        if needle.get(i) == needle.get(k) {
            k += 1;
        }
        if let Some(slot) = fail.get_mut(i) {
            *slot = k;
        }
    }
    let mut k = 0;
    for (i, b) in haystack.iter().enumerate().skip(from) {
        while k > 0 && needle.get(k) != Some(b) {
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
        if needle.get(k) == Some(b) {
            k += 1;
        }
        if k == needle.len() {
            return Some(i + 1 - k);
        }
    }
    None
}

/// The `name` parameter of a part's `Content-Disposition: form-data; name="..."` header.
fn part_name(headers: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(headers);
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        let (_, params) = parse_content_type(value);
        return params.into_iter().find(|(k, _)| k == "name").map(|(_, v)| v);
    }
    None
}

/// Extracts the `file` part from a multipart body.
pub fn multipart_file<'a>(body: &'a [u8], boundary: &str) -> Result<&'a [u8], Error> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(Error::bad_request(
            "Malformed multipart body: missing or invalid boundary in the content-type header",
        ));
    }
    let malformed = || Error::bad_request("Malformed multipart body");
    let delim = format!("--{boundary}");
    let inner = format!("\n--{boundary}");
    // The first delimiter may start the body or follow a preamble line.
    let first =
        if body.starts_with(delim.as_bytes()) { 0 } else { find(body, inner.as_bytes(), 0).ok_or_else(malformed)? + 1 };
    let mut pos = first + delim.len();
    for _ in 0..MAX_PARTS {
        // After a delimiter: "--" closes the body, otherwise the line ends.
        let rest = body.get(pos..).ok_or_else(malformed)?;
        if rest.starts_with(b"--") {
            return Err(missing_file());
        }
        let eol = rest.iter().position(|&b| b == b'\n').ok_or_else(malformed)?;
        let headers_start = pos + eol + 1;
        // Headers end at the first empty line (CRLF CRLF or LF LF).
        let window_end = body.len().min(headers_start + MAX_PART_HEADER_BYTES);
        let window = body.get(headers_start..window_end).ok_or_else(malformed)?;
        let (headers_len, sep_len) = if window.starts_with(b"\r\n") {
            (0, 2)
        } else if window.starts_with(b"\n") {
            (0, 1)
        } else {
            let crlf = find(window, b"\r\n\r\n", 0).map(|i| (i, 4));
            let lf = find(window, b"\n\n", 0).map(|i| (i, 2));
            match (crlf, lf) {
                (Some(a), Some(b)) => {
                    if a.0 <= b.0 {
                        a
                    } else {
                        b
                    }
                }
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => return Err(malformed()),
            }
        };
        let headers = window.get(..headers_len).ok_or_else(malformed)?;
        let content_start = headers_start + headers_len + sep_len;
        let next = find(body, inner.as_bytes(), content_start).ok_or_else(malformed)?;
        // The content ends before the line break that precedes the next delimiter.
        let mut content_end = next;
        if content_end > content_start && body.get(content_end - 1) == Some(&b'\r') {
            content_end -= 1;
        }
        if part_name(headers).as_deref() == Some("file") {
            return body.get(content_start..content_end).ok_or_else(malformed);
        }
        pos = next + inner.len();
    }
    Err(missing_file())
}

/// The uploaded dump's bytes: the multipart `file` part, or the whole body for
/// `text/*`, `application/octet-stream` or a missing content type.
pub fn extract_file<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<&'a [u8], Error> {
    let (media, params) = parse_content_type(content_type.unwrap_or(""));
    match media.as_str() {
        "multipart/form-data" => {
            let boundary = params.iter().find(|(k, _)| k == "boundary").map(|(_, v)| v.as_str()).unwrap_or("");
            if body.is_empty() {
                return Err(missing_file());
            }
            multipart_file(body, boundary)
        }
        "" | "application/octet-stream" => Ok(body),
        m if m.starts_with("text/") => Ok(body),
        other => Err(Error::new(
            415,
            "unsupported_media_type",
            format!(
                "Unsupported content type {other:?}: POST multipart/form-data with a 'file' \
                 part, or the raw cfg text as text/plain or application/octet-stream."
            ),
        )),
    }
}

/// Checks the upload before parsing: not empty, not binary, no line over 1 MiB.
/// Returns the text, decoded as UTF-8 with invalid sequences replaced (as the original).
pub fn check_and_decode(file: &[u8]) -> Result<String, Error> {
    if file.is_empty() {
        return Err(Error::bad_request(EMPTY_UPLOAD));
    }
    let mut line_start = 0usize;
    for (i, &b) in file.iter().enumerate() {
        if b == 0 {
            return Err(file_error(
                format!("file: binary data (NUL byte at offset {i}) - upload the GrainusMod.cfg text"),
                "binary",
            ));
        }
        if b == b'\n' {
            line_start = i + 1;
        } else if i - line_start >= MAX_LINE_BYTES {
            return Err(file_error(
                format!("file: a line starting at byte {line_start} is longer than {MAX_LINE_BYTES} bytes"),
                "line_too_long",
            ));
        }
    }
    let text = String::from_utf8_lossy(file);
    // Text dumps are overwhelmingly printable: more than 5% invalid UTF-8 or control
    // characters (other than tab, CR, LF, VT, FF) means this is not a text file.
    let mut total = 0usize;
    let mut suspicious = 0usize;
    for c in text.chars() {
        total += 1;
        let control = c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\u{b}' | '\u{c}');
        if c == char::REPLACEMENT_CHARACTER || control {
            suspicious += 1;
        }
    }
    if suspicious.saturating_mul(20) > total {
        return Err(file_error(
            format!(
                "file: binary data ({suspicious} of {total} characters are invalid UTF-8 or \
                 control characters) - upload the GrainusMod.cfg text"
            ),
            "binary",
        ));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, content) in parts {
            b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"x.cfg\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes());
            b.extend_from_slice(content);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        b
    }

    #[test]
    fn finds_file_part() {
        let body = form("XyZ", &[("other", b"zzz"), ("file", b"hello\r\nworld")]);
        assert_eq!(extract_file(Some("multipart/form-data; boundary=XyZ"), &body).unwrap(), b"hello\r\nworld");
        assert_eq!(extract_file(Some("multipart/form-data; boundary=\"XyZ\""), &body).unwrap(), b"hello\r\nworld");
        let body = form("b", &[("file", b"")]);
        assert_eq!(extract_file(Some("multipart/form-data; boundary=b"), &body).unwrap(), b"");
    }

    #[test]
    fn multipart_errors() {
        let body = form("XyZ", &[("other", b"zzz")]);
        let e = extract_file(Some("multipart/form-data; boundary=XyZ"), &body).unwrap_err();
        assert_eq!(e.status, 422);
        let e = extract_file(Some("multipart/form-data"), &body).unwrap_err();
        assert_eq!(e.status, 400);
        let e = extract_file(Some("multipart/form-data; boundary=Q"), &body).unwrap_err();
        assert_eq!(e.status, 400);
        let truncated = &form("XyZ", &[("file", b"abc")])[..60];
        let e = extract_file(Some("multipart/form-data; boundary=XyZ"), truncated).unwrap_err();
        assert_eq!(e.status, 400);
        let e = extract_file(Some("application/json"), b"{}").unwrap_err();
        assert_eq!(e.status, 415);
    }

    #[test]
    fn raw_bodies() {
        assert_eq!(extract_file(None, b"abc").unwrap(), b"abc");
        assert_eq!(extract_file(Some("text/plain; charset=utf-8"), b"abc").unwrap(), b"abc");
        assert_eq!(extract_file(Some("application/octet-stream"), b"abc").unwrap(), b"abc");
    }

    #[test]
    fn checks() {
        assert_eq!(check_and_decode(b"").unwrap_err().message, EMPTY_UPLOAD);
        assert!(check_and_decode(b"abc\0def").is_err());
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8 | 0x80).collect();
        assert!(check_and_decode(&garbage).is_err());
        let long = vec![b'a'; MAX_LINE_BYTES + 1];
        assert!(check_and_decode(&long).is_err());
        let ok = vec![b'a'; MAX_LINE_BYTES];
        assert!(check_and_decode(&ok).is_ok());
        let latin1 = b"a dump line with one stray caf\xe9 byte in it";
        assert!(check_and_decode(latin1).unwrap().contains("caf\u{fffd} byte"));
    }

    #[test]
    fn kmp() {
        assert_eq!(find(b"aaaaab", b"aab", 0), Some(3));
        assert_eq!(find(b"abcabd", b"abd", 0), Some(3));
        assert_eq!(find(b"abc", b"abd", 0), None);
        assert_eq!(find(b"xxabxab", b"ab", 3), Some(5));
    }
}
