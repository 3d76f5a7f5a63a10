//! Luxion, the captured dragon merchant: run bounds from the stored sighting,
//! the 3-hour merchant windows on the global 27-hour grid, and the
//! `GET /luxion` response.
//!
//! A run is live from its first sighting to the daily reset
//! [`LUXION_RUN_DAYS`] after the trove day it was first seen on. The merchant
//! windows sit on `LUXION_EPOCH + m·27h` (3 h each); a run lists the grid
//! slots that fall inside it, labelled "Day 1", "Day 2", ….

use serde::{Deserialize, Serialize};

use crate::schedule::MerchantWindow;
use crate::store::{Log, Record};
use crate::time::{DAY, LUXION_EPOCH, Now, ceil_div, datetime_z};

/// Trove days from the start day's reset to the run's end reset.
pub const LUXION_RUN_DAYS: i64 = 6;
/// Merchant window length (3 h).
pub const LUXION_WINDOW: i64 = 3 * 3600;
/// Grid cycle: 3 h open + 24 h away.
pub const LUXION_CYCLE: i64 = 27 * 3600;
/// A run is at most 6 days long, so about 6 windows; cap defensively.
const MAX_WINDOWS: usize = 32;

/// The Luxion capture log (one record per run, keyed by its start day).
pub const LOG: Log = Log { prefix: "luxion", bucket_span: 52 * 7 * DAY };

/// A captured Luxion appearance (`LuxionAppearance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appearance {
    /// The daily reset (11:00 UTC) of the trove day of the first sighting.
    pub started_at: i64,
    /// First sighting, unix ms.
    pub first_seen_ms: Option<i64>,
    /// Latest sighting, unix ms.
    pub last_seen_ms: Option<i64>,
}

impl Record for Appearance {
    fn anchor(&self) -> i64 {
        self.started_at
    }
}

/// The first grid opening at or after `after`.
pub fn next_grid_slot(after: i64) -> i64 {
    LUXION_EPOCH + ceil_div(after - LUXION_EPOCH, LUXION_CYCLE) * LUXION_CYCLE
}

/// `(run start, run end)`: from the first sighting (whole seconds) or, without
/// one, from the start day's reset; to the reset [`LUXION_RUN_DAYS`] later.
pub fn run_bounds(day_anchor: i64, first_seen_ms: Option<i64>) -> (i64, i64) {
    let start = first_seen_ms.map_or(day_anchor, |ms| ms.div_euclid(1000));
    (start, day_anchor + LUXION_RUN_DAYS * DAY)
}

/// The merchant windows inside a run, soonest first.
pub fn schedule_for(day_anchor: i64, first_seen_ms: Option<i64>) -> Vec<MerchantWindow> {
    let (start, end) = run_bounds(day_anchor, first_seen_ms);
    let first = next_grid_slot(start);
    (0i64..)
        .map(|d| (d, first + d * LUXION_CYCLE))
        .take_while(|(_, opens)| *opens < end)
        .take(MAX_WINDOWS)
        .map(|(d, opens)| MerchantWindow {
            starts_at: opens,
            ends_at: opens + LUXION_WINDOW,
            state: Some(format!("Day {}", d + 1)),
        })
        .collect()
}

/// `Luxion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Luxion {
    pub active: bool,
    pub merchant_open: bool,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub seconds_remaining: i64,
    pub current_window: Option<MerchantWindow>,
    pub next_window: Option<MerchantWindow>,
    pub schedule: Vec<MerchantWindow>,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
}

/// `GET /luxion` from the latest appearance (or the constant "never seen" body).
pub fn luxion(latest: Option<&Appearance>, now: Now) -> Luxion {
    let Some(app) = latest else {
        return Luxion {
            active: false,
            merchant_open: false,
            starts_at: None,
            ends_at: None,
            seconds_remaining: 0,
            current_window: None,
            next_window: None,
            schedule: Vec::new(),
            first_seen_at: None,
            last_seen_at: None,
        };
    };
    let n = now.secs();
    let (start, end) = run_bounds(app.started_at, app.first_seen_ms);
    let schedule = schedule_for(app.started_at, app.first_seen_ms);
    let current = schedule.iter().find(|w| w.starts_at <= n && n < w.ends_at).cloned();
    let next = schedule.iter().find(|w| w.starts_at > n).cloned();
    let seconds_remaining = match (&current, &next) {
        (Some(c), _) => c.ends_at - n,
        (None, Some(nx)) => nx.starts_at - n,
        (None, None) => end - n,
    };
    Luxion {
        active: start <= n && n < end,
        merchant_open: current.is_some(),
        starts_at: Some(start),
        ends_at: Some(end),
        seconds_remaining: seconds_remaining.max(0),
        current_window: current,
        next_window: next,
        schedule,
        first_seen_at: app.first_seen_ms.map(datetime_z),
        last_seen_at: app.last_seen_ms.map(datetime_z),
    }
}

/// `LuxionAppearanceOut` (a history item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppearanceOut {
    pub started_at: i64,
    pub ends_at: i64,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
}

impl From<&Appearance> for AppearanceOut {
    fn from(a: &Appearance) -> Self {
        let (started_at, ends_at) = run_bounds(a.started_at, a.first_seen_ms);
        Self {
            started_at,
            ends_at,
            first_seen_at: a.first_seen_ms.map(datetime_z),
            last_seen_at: a.last_seen_ms.map(datetime_z),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_spec() {
        // Run captured 2026-07-21 15:06 UTC; day anchor 1784631600; now = the sighting.
        let app = Appearance {
            started_at: 1_784_631_600,
            first_seen_ms: Some(1_784_646_360_000),
            last_seen_ms: Some(1_784_646_360_000),
        };
        let l = luxion(Some(&app), Now::from_secs(1_784_646_360).unwrap());
        assert!(l.active);
        assert!(!l.merchant_open);
        assert_eq!(l.starts_at, Some(1_784_646_360));
        assert_eq!(l.ends_at, Some(1_785_150_000));
        assert_eq!(l.seconds_remaining, 39_240);
        assert_eq!(
            l.next_window,
            Some(MerchantWindow { starts_at: 1_784_685_600, ends_at: 1_784_696_400, state: Some("Day 1".into()) })
        );
        assert_eq!(l.schedule.len(), 5);
        assert_eq!(l.schedule[4].state.as_deref(), Some("Day 5"));
        assert_eq!(l.first_seen_at.as_deref(), Some("2026-07-21T15:06:00Z"));
    }

    #[test]
    fn windows_open_close_and_run_end() {
        let app = Appearance { started_at: 1_784_631_600, first_seen_ms: Some(1_784_646_360_000), last_seen_ms: None };
        let open = luxion(Some(&app), Now::from_secs(1_784_685_600).unwrap());
        assert!(open.merchant_open);
        assert_eq!(open.seconds_remaining, LUXION_WINDOW);
        let after_last = app.started_at + LUXION_RUN_DAYS * DAY - 10;
        let late = luxion(Some(&app), Now::from_secs(after_last).unwrap());
        assert!(late.active && !late.merchant_open && late.next_window.is_none());
        assert_eq!(late.seconds_remaining, 10);
        let over = luxion(Some(&app), Now::from_secs(after_last + 10).unwrap());
        assert!(!over.active);
        assert_eq!(over.seconds_remaining, 0);
    }

    #[test]
    fn never_seen_is_constant() {
        let body = serde_json::to_value(luxion(None, Now::from_secs(1).unwrap())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"active":false,"merchant_open":false,"starts_at":null,"ends_at":null,
                "seconds_remaining":0,"current_window":null,"next_window":null,"schedule":[],
                "first_seen_at":null,"last_seen_at":null})
        );
    }

    #[test]
    fn grid_slots() {
        assert_eq!(next_grid_slot(LUXION_EPOCH), LUXION_EPOCH);
        assert_eq!(next_grid_slot(LUXION_EPOCH + 1), LUXION_EPOCH + LUXION_CYCLE);
        assert_eq!(next_grid_slot(LUXION_EPOCH - 1), LUXION_EPOCH);
        assert_eq!(next_grid_slot(LUXION_EPOCH - LUXION_CYCLE), LUXION_EPOCH - LUXION_CYCLE);
        assert_eq!(next_grid_slot(LUXION_EPOCH - LUXION_CYCLE - 1), LUXION_EPOCH - LUXION_CYCLE);
    }
}
