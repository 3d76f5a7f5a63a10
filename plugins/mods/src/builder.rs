//! The `.tmod` / `.tpack` builder (spec §4): property stamping (`modLoader`,
//! `tags` → `flags`), path normalisation, the file table and the stored-block
//! stream, byte-for-byte as the original's `build_tmod` / `build_tpack`.

use crate::categories;
use crate::primitives::{calculate_hash, write_leb128};
use crate::stream::StoredWriter;

/// The loader stamp the original writes (BTT writes `BTT`).
pub const KIWI_MOD_LOADER: &str = "KiwiAPI";

/// Why a build failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The original's `TmodError` (HTTP 400), with its text.
    Tmod(String),
    /// Python `OverflowError` (version outside 0..=65535, more than 65535
    /// properties): the original answers HTTP 500. The text is Python's.
    Overflow(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Tmod(m) | BuildError::Overflow(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BuildError {}

/// §4.3: `\` → `/`, strip leading `/`, optionally Unicode-lowercase.
pub fn normalize_path(raw: &str, lowercase: bool) -> String {
    let p = raw.replace('\\', "/");
    let p = p.trim_start_matches('/');
    if lowercase { p.to_lowercase() } else { p.to_owned() }
}

/// §4.2: the properties as written — the caller's, in order, with `modLoader`
/// (re)stamped in place or appended, and `flags` derived from `tags` when absent.
pub fn stamp_properties(properties: &[(String, String)], mod_loader: &str) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = properties.to_vec();
    match props.iter_mut().find(|(k, _)| k == "modLoader") {
        Some(slot) => slot.1 = mod_loader.to_owned(),
        None => props.push(("modLoader".into(), mod_loader.to_owned())),
    }
    let tags = props.iter().find(|(k, _)| k == "tags").map(|(_, v)| v.as_str()).unwrap_or("");
    if !tags.is_empty() && !props.iter().any(|(k, _)| k == "flags") {
        let flags = categories::flags_from_tags(tags.split(','));
        if flags != 0 {
            props.push(("flags".into(), flags.to_string()));
        }
    }
    props
}

/// `build_tmod(version, properties, files, mod_loader, lowercase_paths)`.
///
/// `properties` must already be a map (unique names, caller order); `version`
/// is taken as the caller gave it so that out-of-range values fail like Python.
pub fn build_tmod<C: AsRef<[u8]>>(
    version: i128,
    properties: &[(String, String)],
    files: &[(String, C)],
    mod_loader: &str,
    lowercase_paths: bool,
) -> Result<Vec<u8>, BuildError> {
    if files.is_empty() {
        return Err(BuildError::Tmod("a .tmod needs at least one file".into()));
    }
    let props = stamp_properties(properties, mod_loader);

    let mut table = Vec::new();
    let mut offset: u64 = 0;
    let mut stream_len: u64 = 0;
    for (raw_path, content) in files {
        let content = content.as_ref();
        let path = normalize_path(raw_path, lowercase_paths);
        let Ok(path_len) = u8::try_from(path.len()) else {
            return Err(BuildError::Tmod(format!("internal path too long for the .tmod format (>255 bytes): {path}")));
        };
        let size = content.len() as u64;
        let padded = size.div_ceil(4) * 4;
        table.push(path_len);
        table.extend_from_slice(path.as_bytes());
        write_leb128(&mut table, 0);
        write_leb128(&mut table, if size == 0 { 0 } else { offset });
        write_leb128(&mut table, size);
        write_leb128(&mut table, calculate_hash(content).into());
        offset += padded;
        stream_len += padded;
    }

    let Ok(version) = u16::try_from(version) else {
        return Err(BuildError::Overflow(if version < 0 {
            "can't convert negative int to unsigned".into()
        } else {
            "int too big to convert".into()
        }));
    };
    let Ok(prop_count) = u16::try_from(props.len()) else {
        return Err(BuildError::Overflow("int too big to convert".into()));
    };

    let mut props_stream = Vec::new();
    for (name, value) in &props {
        write_leb128(&mut props_stream, name.len() as u64);
        props_stream.extend_from_slice(name.as_bytes());
        write_leb128(&mut props_stream, value.len() as u64);
        props_stream.extend_from_slice(value.as_bytes());
    }

    let header_size = 12 + props_stream.len() + table.len();
    let blocks = stream_len.div_ceil(crate::stream::CHUNK as u64);
    let total = header_size as u64 + 2 + blocks * 5 + stream_len + 5;
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    out.extend_from_slice(&(header_size as u64).to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&prop_count.to_le_bytes());
    out.extend_from_slice(&props_stream);
    out.extend_from_slice(&table);
    drop(props_stream);
    drop(table);

    let mut writer = StoredWriter::new(&mut out);
    for (_, content) in files {
        let content = content.as_ref();
        writer.write(content);
        let pad = (4 - content.len() % 4) % 4;
        writer.write(&[0u8; 3][..pad]);
    }
    writer.finish();
    Ok(out)
}

/// `build_tpack(version, properties, tmods)`: the same container, inner paths
/// (`<title>.tmod`) case-preserved, `modLoader` `KiwiAPI`.
pub fn build_tpack<C: AsRef<[u8]>>(
    version: i128,
    properties: &[(String, String)],
    tmods: &[(String, C)],
) -> Result<Vec<u8>, BuildError> {
    build_tmod(version, properties, tmods, KIWI_MOD_LOADER, false)
}

/// The download name's stem: `title` with every character outside
/// `[A-Za-z0-9 ._-]` removed, stripped, `mod` if empty, at most 80 characters.
pub fn safe_filename(name: &str) -> String {
    let cleaned: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-')).collect();
    let trimmed = cleaned.trim_matches(' ');
    let stem = if trimmed.is_empty() { "mod" } else { trimmed };
    stem.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names() {
        assert_eq!(normalize_path("\\\\UI\\Ä.PNG", true), "ui/ä.png");
        assert_eq!(normalize_path("//A/ΣΑΣ", true), "a/σας");
        assert_eq!(normalize_path("/My Mod.tmod", false), "My Mod.tmod");
        assert_eq!(safe_filename("My Mod!! ☃/..\\x"), "My Mod ..x");
        assert_eq!(safe_filename("  "), "mod");
        assert_eq!(safe_filename(&"a".repeat(100)).len(), 80);
    }

    #[test]
    fn stamping() {
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
        };
        assert_eq!(
            stamp_properties(&p(&[("modLoader", "BTT"), ("tags", "Wings, reskin")]), "KiwiAPI"),
            p(&[("modLoader", "KiwiAPI"), ("tags", "Wings, reskin"), ("flags", "73728")])
        );
        assert_eq!(
            stamp_properties(&p(&[("tags", "Wings"), ("flags", "5")]), "KiwiAPI"),
            p(&[("tags", "Wings"), ("flags", "5"), ("modLoader", "KiwiAPI")])
        );
        assert_eq!(
            stamp_properties(&p(&[("tags", "nothing")]), "KiwiAPI"),
            p(&[("tags", "nothing"), ("modLoader", "KiwiAPI")])
        );
    }

    #[test]
    fn errors() {
        let files: Vec<(String, Vec<u8>)> = vec![];
        assert!(matches!(build_tmod(1, &[], &files, "K", true), Err(BuildError::Tmod(_))));
        let long = vec![("é".repeat(128), vec![1u8])];
        assert_eq!(
            build_tmod(1, &[], &long, "K", true),
            Err(BuildError::Tmod(format!(
                "internal path too long for the .tmod format (>255 bytes): {}",
                "é".repeat(128)
            )))
        );
        let ok = vec![("a".to_owned(), vec![1u8])];
        assert!(matches!(build_tmod(70000, &[], &ok, "K", true), Err(BuildError::Overflow(_))));
        assert!(matches!(build_tmod(-1, &[], &ok, "K", true), Err(BuildError::Overflow(_))));
        assert!(build_tmod(65535, &[], &ok, "K", true).is_ok());
    }
}
