//! `mods`: Trove `.tmod` / `.tpack` files over HTTP (`/v1/mods/*`).
//!
//! * `POST /v1/mods/read[?metadata_only=]` — raw `.tmod` bytes in, header
//!   properties, decoded `flags`/`categories`, file table and contents out,
//!   including the original's quirks (header repair, framing fallback, checksum
//!   mismatch returned as-is).
//! * `POST /v1/mods/build` — JSON in, the exact bytes the original builds out.
//! * `POST /v1/mods/build-pack` — the `.tpack` variant (`build_tpack`): same JSON
//!   with the packed mods under `tmods`, inner names case-preserved.
//! * `GET /v1/mods/categories` — the 19 categories and their bits.
//!
//! The handlers are thin; the format lives in [`reader`], [`builder`],
//! [`stream`], [`primitives`] and [`categories`].

pub mod b64;
pub mod builder;
pub mod categories;
pub mod primitives;
pub mod pyutf8;
pub mod reader;
pub mod request;
pub mod stream;

use kiwi_sdk::prelude::*;
use kiwi_sdk::validate::{self, Loc};
use kiwi_sdk::{Response, query_pairs};
use serde_json::{Value, json};

use crate::builder::BuildError;
use crate::reader::Tmod;

/// `/v1/mods/*` body cap (the original's `mods_max_request_body_bytes`).
pub const BODY_LIMIT: u64 = 20 * 1024 * 1024;

const SCOPE: &str = "mods:read";

fn internal_error() -> Error {
    Error::new(500, "internal_error", "Internal server error")
}

/// Appends `v` as JSON. Writing to a `Vec` cannot fail, nor can serialising
/// strings and integers.
fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `n` files of `size` pseudo-random bytes (xorshift32, so nothing compresses), named
/// `Textures/File<i>.dds`: the large mods of the benchmarks.
pub fn synthetic_files(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|i| {
            let content = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            (format!("Textures/File{i}.dds"), content)
        })
        .collect()
}

/// The `POST /build` JSON body (title `Big`, format version 1) for `files`: the
/// benchmarks' build request.
pub fn synthetic_build_request(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut s = String::from(r#"{"version":1,"properties":{"title":"Big"},"files":["#);
    for (i, (p, c)) in files.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(r#"{{"path":"{p}","content_base64":"{}"}}"#, b64::encode(c)));
    }
    s.push_str("]}");
    s.into_bytes()
}

/// The read response body: the original's `TmodReadResponse` plus `flags` and
/// `categories` (which the original computed but dropped from its response).
/// Written by hand so each file's base64 goes straight into the body (base64
/// needs no JSON escaping), which keeps a 20 MB read fast.
pub fn read_response_json(t: &Tmod, metadata_only: bool) -> Vec<u8> {
    let contents: usize = (0..t.files.len()).map(|i| t.content(i).map_or(0, |c| c.len().div_ceil(3) * 4)).sum();
    let mut out = Vec::with_capacity(contents + 256 + t.files.len() * 128);
    out.extend_from_slice(b"{\"version\":");
    push_json(&mut out, &t.version);
    out.extend_from_slice(b",\"header_size\":");
    push_json(&mut out, &t.header_size);
    out.extend_from_slice(b",\"properties\":{");
    for (i, (k, v)) in t.properties.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(&mut out, k);
        out.push(b':');
        push_json(&mut out, v);
    }
    out.extend_from_slice(b"},\"file_count\":");
    push_json(&mut out, &t.files.len());
    out.extend_from_slice(b",\"files\":[");
    for (i, e) in t.files.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"path\":");
        push_json(&mut out, &e.path);
        out.extend_from_slice(b",\"index\":");
        push_json(&mut out, &e.index);
        out.extend_from_slice(b",\"offset\":");
        push_json(&mut out, &e.offset);
        out.extend_from_slice(b",\"size\":");
        push_json(&mut out, &e.size);
        out.extend_from_slice(b",\"checksum\":");
        push_json(&mut out, &e.checksum);
        out.extend_from_slice(b",\"content_base64\":");
        match t.content(i) {
            Some(c) => {
                out.push(b'"');
                b64::encode_into(c, &mut out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"metadata_only\":");
    push_json(&mut out, &metadata_only);
    out.extend_from_slice(b",\"header_repaired\":");
    push_json(&mut out, &t.header_repaired);
    // Exact when it fits in i64; otherwise the value modulo 2^19 (the bits that count).
    let flags = t.flags.exact.unwrap_or(t.flags.wrapped & i64::from(categories::ALL_CATEGORIES_MASK));
    out.extend_from_slice(b",\"flags\":");
    push_json(&mut out, &flags);
    out.extend_from_slice(b",\"categories\":");
    push_json(&mut out, &t.categories);
    out.push(b'}');
    out
}

fn is_json_content_type(headers: &Headers) -> bool {
    let Some(ct) = headers.get("content-type") else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.strip_prefix("application/") {
        Some(sub) => sub == "json" || sub.ends_with("+json"),
        None => false,
    }
}

/// `POST /read`: the raw `.tmod` body → its decoded JSON.
fn read(Body(body): Body, headers: Headers, RawQuery(query): RawQuery) -> Result<Response> {
    let mut details = Vec::new();
    let mut metadata_only = false;
    if let Some((_, raw)) = query_pairs(&query).into_iter().rev().find(|(k, _)| k == "metadata_only") {
        match validate::parse_bool(&Loc::query("metadata_only"), &raw) {
            Ok(b) => metadata_only = b,
            Err(d) => details.push(d),
        }
    }
    // FastAPI parses a JSON-typed body as JSON before validation.
    let mut data = body;
    if !data.is_empty() && is_json_content_type(&headers) {
        match serde_json::from_slice::<Value>(&data) {
            Err(_) => return Err(Error::bad_request("There was an error parsing the body")),
            Ok(Value::String(s)) => data = s.into_bytes(),
            Ok(other) => details.push(validate::detail(
                "bytes_type",
                &Loc(vec!["body".into()]),
                "Input should be a valid bytes",
                other,
                None,
            )),
        }
    }
    if data.is_empty() {
        details.push(validate::missing(&Loc(vec!["body".into()]), Value::Null));
    }
    if !details.is_empty() {
        return Err(Error::validation(details));
    }
    let tmod = reader::read_tmod(&data, metadata_only).map_err(|e| Error::bad_request(e.0))?;
    drop(data);
    let body = read_response_json(&tmod, metadata_only);
    drop(tmod);
    Ok(Response { status: 200, headers: vec![("content-type".into(), "application/json".into())], body })
}

/// Decodes every file's base64 (400 naming the path on the first failure).
fn decode_files(files: &[request::BuildFile<'_>]) -> Result<Vec<(String, Vec<u8>)>> {
    files
        .iter()
        .map(|f| {
            b64::decode_strict(&f.content_base64)
                .map(|bytes| (f.path.to_string(), bytes))
                .map_err(|e| Error::bad_request(format!("Invalid base64 content for '{}': {e}", f.path)))
        })
        .collect()
}

fn build_error(e: BuildError) -> Error {
    match e {
        BuildError::Tmod(m) => Error::bad_request(m),
        BuildError::Overflow(_) => internal_error(),
    }
}

fn octet_stream(bytes: Vec<u8>, filename: &str) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/octet-stream".into()),
            ("content-disposition".into(), format!("attachment; filename=\"{filename}\"")),
        ],
        body: bytes,
    }
}

fn property<'a>(props: &'a [(String, String)], name: &str) -> Option<&'a str> {
    props.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `POST /build`: JSON → the `.tmod` bytes.
fn build(Body(body): Body) -> Result<Response> {
    let value = request::parse_body(&body)?;
    let req = request::validate_build(&value, "files")?;
    let files = decode_files(&req.files)?;
    drop(req.files);
    let bytes = builder::build_tmod(req.version, &req.properties, &files, builder::KIWI_MOD_LOADER, true)
        .map_err(build_error)?;
    let title = property(&req.properties, "title").unwrap_or("mod");
    Ok(octet_stream(bytes, &format!("{}.tmod", builder::safe_filename(title))))
}

/// `POST /build-pack`: JSON (`tmods` instead of `files`) → the `.tpack` bytes.
fn build_pack(Body(body): Body) -> Result<Response> {
    let value = request::parse_body(&body)?;
    let req = request::validate_build(&value, "tmods")?;
    let tmods = decode_files(&req.files)?;
    drop(req.files);
    let bytes = builder::build_tpack(req.version, &req.properties, &tmods).map_err(build_error)?;
    let title = property(&req.properties, "title").unwrap_or("modpack");
    let mut name = builder::safe_filename(title);
    if let Some(variant) = property(&req.properties, "variant")
        && !variant.is_empty()
        && variant != "default"
    {
        name = format!("{name}-{}", builder::safe_filename(variant));
    }
    Ok(octet_stream(bytes, &format!("{name}.tpack")))
}

/// `GET /categories`.
fn list_categories() -> Json<Value> {
    Json(json!({ "categories": categories::categories() }))
}

const READ_DESCRIPTION: &str = "POST the raw `.tmod` (or `.tpack`) bytes as the body \
(`Content-Type: application/octet-stream`, at most 20 MiB). Returns the header properties, \
the file table and each file's content in base64 (`null` with `metadata_only=true`), plus \
`flags` (the integer value of the `flags` property, 0 if absent or not an integer) and \
`categories` (its category names in bit order). Reproduces the original reader: header \
strings whose lengths count characters are repaired (`header_repaired: true`); a stream \
that zlib mis-decodes is de-framed manually when that matches the checksums; a checksum \
mismatch is not an error (the content is returned as decoded). Malformed files give 400 \
with the original's message. The zlib stream may inflate to at most 16x the upload size.";

const BUILD_DESCRIPTION: &str = "JSON body `{\"version\": 1, \"properties\": {str: str}, \
\"files\": [{\"path\": str, \"content_base64\": str}]}` (at most 20 MiB). Returns the `.tmod` \
bytes exactly as the original builds them: `modLoader` stamped `KiwiAPI` (in place if \
given), `flags` derived from `tags` unless present, paths normalised (`\\` to `/`, leading \
`/` stripped, lowercased), contents padded to 4 bytes and stored in zlib level-0 blocks \
ended by a sync flush. `Content-Disposition` names the file `<title>.tmod`. Errors: 422 \
for a wrong shape (naming the field), 400 for bad base64, no files or a path over 255 \
bytes, 500 for a version outside 0..65535.";

const BUILD_PACK_DESCRIPTION: &str = "The `.tpack` variant (`build_tpack`): the same \
container with whole `.tmod` builds inside. Body `{\"version\": 1, \"properties\": {...}, \
\"tmods\": [{\"path\": \"<title>.tmod\", \"content_base64\": str}]}`; pass the pack's \
properties as the modpack service does (`title`, `author`, `packVersion`, `variant`, \
`notes`, `manifest` as JSON text). Inner names keep their case; `modLoader` is `KiwiAPI`. \
The download is named `<title>[-<variant>].tpack` (no suffix for `default`).";

const BUILD_SCHEMA: &str = r#"{"type":"object","required":["files"],"properties":{"version":{"type":"integer","default":1,"minimum":0,"maximum":65535},"properties":{"type":"object","additionalProperties":{"type":"string"},"default":{}},"files":{"type":"array","items":{"type":"object","required":["path","content_base64"],"properties":{"path":{"type":"string"},"content_base64":{"type":"string","contentEncoding":"base64"}}}}}}"#;

const BUILD_PACK_SCHEMA: &str = r#"{"type":"object","required":["tmods"],"properties":{"version":{"type":"integer","default":1,"minimum":0,"maximum":65535},"properties":{"type":"object","additionalProperties":{"type":"string"},"default":{}},"tmods":{"type":"array","items":{"type":"object","required":["path","content_base64"],"properties":{"path":{"type":"string"},"content_base64":{"type":"string","contentEncoding":"base64"}}}}}}"#;

const READ_EXAMPLE: &str = r#"{"version":1,"header_size":54,"properties":{"title":"X","modLoader":"KiwiAPI"},"file_count":1,"files":[{"path":"a/b.txt","index":0,"offset":0,"size":15,"checksum":3802317044,"content_base64":"c29tZSBieXRlcyBoZXJl"}],"metadata_only":false,"header_repaired":false,"flags":0,"categories":[]}"#;

const CATEGORIES_EXAMPLE: &str =
    r#"{"categories":[{"name":"Allies","bit":1},{"name":"Banners","bit":2},{"name":"Boats and Sails","bit":4}]}"#;

/// The plugin manifest and routes.
pub fn plugin() -> Plugin {
    Plugin::new("mods", env!("CARGO_PKG_VERSION"))
        .description("Trove .tmod/.tpack files: decompile, build, and the mod-category bitmask.")
        .scope(SCOPE, "Read and build Trove .tmod/.tpack files")
        .route(
            post("/read", read)
                .public(SCOPE)
                .body_limit(BODY_LIMIT)
                .summary("Decompile a .tmod (raw bytes in, header + files out)")
                .description(READ_DESCRIPTION)
                .query_params(&["metadata_only"])
                .example(READ_EXAMPLE),
        )
        .route(
            post("/build", build)
                .public(SCOPE)
                .body_limit(BODY_LIMIT)
                .summary("Build a .tmod from header properties and base64 files")
                .description(BUILD_DESCRIPTION)
                .request_schema(BUILD_SCHEMA),
        )
        .route(
            post("/build-pack", build_pack)
                .public(SCOPE)
                .body_limit(BODY_LIMIT)
                .summary("Build a .tpack (modpack) from whole .tmod files")
                .description(BUILD_PACK_DESCRIPTION)
                .request_schema(BUILD_PACK_SCHEMA),
        )
        .route(
            get("/categories", list_categories)
                .public(SCOPE)
                .summary("The mod categories and their flag bits")
                .description(
                    "The fixed, append-only category vocabulary. Each category owns one bit; \
                     a mod's `flags` property is the OR of its categories' bits.",
                )
                .example(CATEGORIES_EXAMPLE),
        )
}

kiwi_sdk::export!(plugin);
