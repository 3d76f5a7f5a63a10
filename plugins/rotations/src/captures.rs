//! Bot-captured rotation data: the weekly Chaos Chest item, the hourly
//! challenge name and Luxion sightings. Inserts are anchor-keyed upserts (the
//! server derives the anchor from the pinned clock); reads merge a stored
//! capture into the computed window.
//!
//! Re-submitting in the same window never duplicates: the window keeps one
//! capture, and a different name replaces the stored one (with a new
//! `captured_at`), reported as `refreshed: true`, exactly as the original did.

use kiwi_sdk::host::Kv;
use kiwi_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::luxion::{self, Appearance};
use crate::schedule::{ChallengeWindow, challenge_window, chaos_chest_window};
use crate::store::{Log, Record};
use crate::time::{DAY, Now, WEEK, current_daily_reset, datetime_z};

/// Chaos Chest captures, one per Tuesday-11:00-UTC week.
pub const CHAOS_LOG: Log = Log { prefix: "chaos", bucket_span: 52 * WEEK };

/// Challenge captures, one per 20-minute window (at most 48 per UTC day bucket).
pub const CHALLENGE_LOG: Log = Log { prefix: "challenge", bucket_span: DAY };

/// A stored Chaos Chest capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosCapture {
    pub week_anchor: i64,
    pub name: String,
    pub captured_at_ms: i64,
}

impl Record for ChaosCapture {
    fn anchor(&self) -> i64 {
        self.week_anchor
    }
}

/// A stored challenge capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeCapture {
    pub window_anchor: i64,
    pub window_ends_at: i64,
    pub name: String,
    pub is_friday_window: bool,
    pub captured_at_ms: i64,
}

impl Record for ChallengeCapture {
    fn anchor(&self) -> i64 {
        self.window_anchor
    }
}

/// `CaptureInsertResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureInsertResponse {
    /// The anchor the server inferred from now.
    pub anchor: i64,
    /// The stored name (trimmed).
    pub name: String,
    /// False on the first capture of this anchor, true on a re-submit.
    pub refreshed: bool,
}

/// Python's `str.strip()`: Unicode whitespace plus the ASCII separators
/// U+001C..U+001F that Python also counts as whitespace.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

// --- Chaos Chest -------------------------------------------------------------

/// `ChaosChestItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosChestItem {
    pub name: String,
    pub identifier: Option<String>,
    pub blueprint: Option<String>,
    pub image_url: Option<String>,
}

/// `ChaosChest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosChest {
    pub active: bool,
    pub starts_at: i64,
    pub ends_at: i64,
    pub seconds_remaining: i64,
    pub item: Option<ChaosChestItem>,
    pub fetched_at: Option<String>,
}

/// `GET /chaos-chest` from the computed week and this week's capture, if any.
pub fn chaos_chest(capture: Option<&ChaosCapture>, now: Now) -> ChaosChest {
    let n = now.secs();
    let (starts_at, ends_at) = chaos_chest_window(n);
    ChaosChest {
        active: starts_at <= n && n < ends_at,
        starts_at,
        ends_at,
        seconds_remaining: (ends_at - n).max(0),
        item: capture.map(|c| ChaosChestItem {
            name: c.name.clone(),
            identifier: None,
            blueprint: None,
            image_url: None,
        }),
        fetched_at: capture.map(|c| datetime_z(c.captured_at_ms)),
    }
}

/// Reads this week's capture and builds the Chaos Chest response.
pub fn current_chaos_chest(kv: Kv<'_>, now: Now) -> Result<ChaosChest> {
    let (week, _) = chaos_chest_window(now.secs());
    let capture: Option<ChaosCapture> = CHAOS_LOG.get(kv, week)?;
    Ok(chaos_chest(capture.as_ref(), now))
}

/// `POST /chaos-chest/insert`: stores `name` (trimmed) for the current week.
pub fn insert_chaos(kv: Kv<'_>, name: &str, now: Now) -> Result<CaptureInsertResponse> {
    let name = py_strip(name);
    if name.is_empty() {
        return Err(Error::bad_request("name is empty"));
    }
    let (week_anchor, _) = chaos_chest_window(now.secs());
    let (doc, was_new) = CHAOS_LOG.upsert(kv, week_anchor, |_| ChaosCapture {
        week_anchor,
        name: name.to_owned(),
        captured_at_ms: now.millis(),
    })?;
    Ok(CaptureInsertResponse { anchor: doc.week_anchor, name: doc.name, refreshed: !was_new })
}

/// `ChaosChestCaptureOut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosChestCaptureOut {
    pub week_anchor: i64,
    pub week_ends_at: i64,
    pub name: String,
    pub captured_at: String,
}

impl From<ChaosCapture> for ChaosChestCaptureOut {
    fn from(c: ChaosCapture) -> Self {
        Self {
            week_anchor: c.week_anchor,
            week_ends_at: c.week_anchor + WEEK,
            name: c.name,
            captured_at: datetime_z(c.captured_at_ms),
        }
    }
}

/// A history page (`…HistoryPage`): `items`, `count` (items on this page), `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPage<T> {
    pub items: Vec<T>,
    pub count: usize,
    pub total: u64,
}

impl<T> HistoryPage<T> {
    fn new(items: Vec<T>, total: u64) -> Self {
        Self { count: items.len(), items, total }
    }
}

/// `GET /chaos-chest/history`, newest week first.
pub fn chaos_history(kv: Kv<'_>, limit: usize, offset: usize) -> Result<HistoryPage<ChaosChestCaptureOut>> {
    let (docs, total) = CHAOS_LOG.page::<ChaosCapture>(kv, limit, offset)?;
    Ok(HistoryPage::new(docs.into_iter().map(Into::into).collect(), total))
}

// --- Hourly challenge -----------------------------------------------------------

/// The challenge category of a captured name (exact, case-sensitive matches
/// after trimming; any other non-blank name is a dungeon).
pub fn classify_challenge(name: Option<&str>) -> Option<&'static str> {
    let n = py_strip(name?);
    Some(match n {
        "" => return None,
        "Collection Challenge" => "collection",
        "RAMPAGE ALERT!" => "rampage",
        "Racing Challenge" => "racing",
        "Target Challenge" => "target",
        _ => "dungeon",
    })
}

/// `ChallengeCurrentOut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeCurrent {
    #[serde(flatten)]
    pub window: ChallengeWindow,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    pub captured_at: Option<String>,
}

/// `GET /challenge/current` from the window and its capture, if any.
pub fn challenge_current(capture: Option<&ChallengeCapture>, now: Now) -> ChallengeCurrent {
    let name = capture.map(|c| c.name.clone());
    ChallengeCurrent {
        window: challenge_window(now.secs()),
        kind: classify_challenge(name.as_deref()),
        name,
        captured_at: capture.map(|c| datetime_z(c.captured_at_ms)),
    }
}

/// Reads the current window's capture and builds the response.
pub fn current_challenge(kv: Kv<'_>, now: Now) -> Result<ChallengeCurrent> {
    let window = challenge_window(now.secs());
    let capture: Option<ChallengeCapture> = CHALLENGE_LOG.get(kv, window.starts_at)?;
    Ok(challenge_current(capture.as_ref(), now))
}

/// `POST /challenge/insert`: stores `name` (trimmed; not blank, not "none")
/// for the current window — the active one, or in the gap after it closes,
/// the one that just closed.
pub fn insert_challenge(kv: Kv<'_>, name: &str, now: Now) -> Result<CaptureInsertResponse> {
    let name = py_strip(name);
    if name.is_empty() || name.to_lowercase() == "none" {
        return Err(Error::bad_request("challenge name is empty or 'none'"));
    }
    let window = challenge_window(now.secs());
    let (doc, was_new) = CHALLENGE_LOG.upsert(kv, window.starts_at, |_| ChallengeCapture {
        window_anchor: window.starts_at,
        window_ends_at: window.ends_at,
        name: name.to_owned(),
        is_friday_window: window.is_friday_window,
        captured_at_ms: now.millis(),
    })?;
    Ok(CaptureInsertResponse { anchor: doc.window_anchor, name: doc.name, refreshed: !was_new })
}

/// `ChallengeCaptureOut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChallengeCaptureOut {
    pub window_anchor: i64,
    pub window_ends_at: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    pub is_friday_window: bool,
    pub captured_at: String,
}

impl From<ChallengeCapture> for ChallengeCaptureOut {
    fn from(c: ChallengeCapture) -> Self {
        Self {
            window_anchor: c.window_anchor,
            window_ends_at: c.window_ends_at,
            kind: classify_challenge(Some(&c.name)),
            name: c.name,
            is_friday_window: c.is_friday_window,
            captured_at: datetime_z(c.captured_at_ms),
        }
    }
}

/// `GET /challenge/history`, newest window first.
pub fn challenge_history(kv: Kv<'_>, limit: usize, offset: usize) -> Result<HistoryPage<ChallengeCaptureOut>> {
    let (docs, total) = CHALLENGE_LOG.page::<ChallengeCapture>(kv, limit, offset)?;
    Ok(HistoryPage::new(docs.into_iter().map(Into::into).collect(), total))
}

// --- Luxion --------------------------------------------------------------------

/// `POST /luxion/insert`: a sighting inside the live run refreshes its
/// `last_seen`; otherwise it opens a new run anchored to today's reset.
pub fn insert_luxion(kv: Kv<'_>, now: Now) -> Result<CaptureInsertResponse> {
    let n = now.secs();
    let latest: Option<Appearance> = luxion::LOG.latest(kv)?;
    let anchor = match latest {
        Some(l) if n < luxion::run_bounds(l.started_at, None).1 => l.started_at,
        _ => current_daily_reset(n),
    };
    let (doc, was_new) = luxion::LOG.upsert(kv, anchor, |existing: Option<Appearance>| match existing {
        Some(mut e) => {
            e.last_seen_ms = Some(now.millis());
            e
        }
        None => Appearance { started_at: anchor, first_seen_ms: Some(now.millis()), last_seen_ms: Some(now.millis()) },
    })?;
    Ok(CaptureInsertResponse { anchor: doc.started_at, name: "luxion".to_owned(), refreshed: !was_new })
}

/// `GET /luxion` from the latest stored appearance.
pub fn current_luxion(kv: Kv<'_>, now: Now) -> Result<luxion::Luxion> {
    let latest: Option<Appearance> = luxion::LOG.latest(kv)?;
    Ok(luxion::luxion(latest.as_ref(), now))
}

/// `GET /luxion/history`, newest run first.
pub fn luxion_history(kv: Kv<'_>, limit: usize, offset: usize) -> Result<HistoryPage<luxion::AppearanceOut>> {
    let (docs, total) = luxion::LOG.page::<Appearance>(kv, limit, offset)?;
    Ok(HistoryPage::new(docs.iter().map(Into::into).collect(), total))
}

/// Every stored Luxion run-start day, newest first (for the calendar).
pub fn luxion_starts(kv: Kv<'_>) -> Result<Vec<i64>> {
    let docs: Vec<Appearance> = luxion::LOG.all(kv)?;
    Ok(docs.iter().map(|d| d.started_at).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify() {
        assert_eq!(classify_challenge(None), None);
        assert_eq!(classify_challenge(Some("  \t")), None);
        assert_eq!(classify_challenge(Some(" RAMPAGE ALERT! ")), Some("rampage"));
        assert_eq!(classify_challenge(Some("Collection Challenge")), Some("collection"));
        assert_eq!(classify_challenge(Some("Racing Challenge")), Some("racing"));
        assert_eq!(classify_challenge(Some("Target Challenge")), Some("target"));
        assert_eq!(classify_challenge(Some("racing challenge")), Some("dungeon"));
        assert_eq!(classify_challenge(Some("Cursed Vale")), Some("dungeon"));
    }

    #[test]
    fn strip_like_python() {
        assert_eq!(py_strip("\u{1f} x \u{a0}\n"), "x");
        assert_eq!(py_strip(""), "");
    }
}
