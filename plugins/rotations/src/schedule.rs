//! The clock-only rotations: server time, daily/weekly buffs, the Corruxion
//! and Fluxion merchants, gardening harvest windows and the Chaos Chest and
//! hourly-challenge windows. Pure functions of the pinned instant; response
//! structs keep the original models' field order.

use serde::Serialize;

use crate::tables::{DailyBuff, Tables, WeeklyBuff};
use crate::time::{
    DAY, FIRST_CORRUXION, FIRST_FLUXION, FIRST_GARDENING, FIRST_WEEK_BUFF, Now, TROVE_OFFSET, WEEK, WEEKDAY_NAMES, fl,
    isoformat_utc, trove_weekday,
};

/// Corruxion cycle (14 days).
pub const CORRUXION_PERIOD: i64 = 14 * DAY;
/// Merchant presence (Corruxion and each Fluxion window): 3 days.
pub const MERCHANT_DURATION: i64 = 3 * DAY;
/// Entries in a merchant `schedule`.
const SCHEDULE_LEN: i64 = 8;
/// Challenge window length (20 min).
pub const CHALLENGE_WINDOW: i64 = 1200;

/// `ServerTime`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerTime {
    pub now_unix: i64,
    pub now_iso: String,
    pub trove_day: String,
    pub daily_reset_at: i64,
    pub weekly_reset_at: i64,
}

/// The first daily reset (11:00 UTC) strictly after `n`.
pub fn next_daily_reset(n: i64) -> i64 {
    TROVE_OFFSET + DAY * (fl(n - TROVE_OFFSET, DAY) + 1)
}

/// The first weekly reset (Monday 11:00 UTC) strictly after `n`.
pub fn next_weekly_reset(n: i64) -> i64 {
    FIRST_WEEK_BUFF + WEEK * (fl(n - FIRST_WEEK_BUFF, WEEK) + 1)
}

/// `GET /server-time`.
pub fn server_time(now: Now) -> ServerTime {
    let n = now.secs();
    let day = usize::try_from(trove_weekday(n)).unwrap_or(0);
    ServerTime {
        now_unix: n,
        now_iso: isoformat_utc(now.millis()),
        trove_day: WEEKDAY_NAMES.get(day).copied().unwrap_or("Monday").to_owned(),
        daily_reset_at: next_daily_reset(n),
        weekly_reset_at: next_weekly_reset(n),
    }
}

/// `DailyBuffs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyBuffs<'a> {
    pub current: Option<&'a DailyBuff>,
    pub week: Vec<&'a DailyBuff>,
}

/// `GET /daily-buffs`: the Trove weekday's entry plus Monday→Sunday.
pub fn daily_buffs(t: &Tables, now: Now) -> DailyBuffs<'_> {
    DailyBuffs { current: t.daily(trove_weekday(now.secs())), week: (0..7).filter_map(|i| t.daily(i)).collect() }
}

/// `WeeklyBuffs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeeklyBuffs<'a> {
    pub current: Option<&'a WeeklyBuff>,
    pub rotation: Vec<&'a WeeklyBuff>,
}

/// Weeks since the weekly-buff anchor (rolls over every Monday 11:00 UTC).
pub fn week_index(n: i64) -> i64 {
    fl(n - FIRST_WEEK_BUFF, WEEK)
}

/// `GET /weekly-buffs`.
pub fn weekly_buffs(t: &Tables, now: Now) -> WeeklyBuffs<'_> {
    WeeklyBuffs { current: t.weekly(week_index(now.secs())), rotation: t.weekly_rotation() }
}

/// `MerchantWindow` (also the Luxion windows, where `state` is "Day N").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MerchantWindow {
    pub starts_at: i64,
    pub ends_at: i64,
    pub state: Option<String>,
}

/// `Corruxion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corruxion {
    pub active: bool,
    pub starts_at: i64,
    pub ends_at: i64,
    pub seconds_remaining: i64,
    pub schedule: Vec<MerchantWindow>,
}

/// `GET /corruxion`: a 3-day visit every 14 days from Friday 2024-03-08 11:00 UTC.
pub fn corruxion(now: Now) -> Corruxion {
    // The original truncates the anchor delta toward zero before its floor
    // `divmod`; that only differs from flooring for sub-second instants
    // before the anchor.
    let ms = now.millis() - FIRST_CORRUXION * 1000;
    let delta = ms / 1000;
    let k = fl(delta, CORRUXION_PERIOD);
    let r = delta - k * CORRUXION_PERIOD;
    let active = r < MERCHANT_DURATION;
    let starts_at = FIRST_CORRUXION + CORRUXION_PERIOD * if active { k } else { k + 1 };
    let ends_at = starts_at + MERCHANT_DURATION;
    Corruxion {
        active,
        starts_at,
        ends_at,
        seconds_remaining: now.secs_until_exact(if active { ends_at } else { starts_at }),
        schedule: (0..SCHEDULE_LEN)
            .map(|i| {
                let s = starts_at + i * CORRUXION_PERIOD;
                MerchantWindow { starts_at: s, ends_at: s + MERCHANT_DURATION, state: None }
            })
            .collect(),
    }
}

/// `Fluxion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fluxion {
    pub active: bool,
    pub state: &'static str,
    pub starts_at: i64,
    pub ends_at: i64,
    pub seconds_remaining: i64,
    pub schedule: Vec<MerchantWindow>,
}

/// Voting in even weeks since the Fluxion anchor, selling in odd ones.
fn fluxion_state(window_start: i64) -> &'static str {
    if fl(window_start - FIRST_FLUXION, WEEK).rem_euclid(2) == 0 { "voting" } else { "selling" }
}

/// `GET /fluxion`: a 3-day window every Tuesday 11:00 UTC, alternating voting/selling.
pub fn fluxion(now: Now) -> Fluxion {
    let n = now.secs();
    let j = fl(n - FIRST_FLUXION, WEEK);
    let cur = n - FIRST_FLUXION - j * WEEK;
    let active = cur < MERCHANT_DURATION;
    let starts_at = FIRST_FLUXION + WEEK * if active { j } else { j + 1 };
    let ends_at = starts_at + MERCHANT_DURATION;
    Fluxion {
        active,
        state: if active { fluxion_state(starts_at) } else { "away" },
        starts_at,
        ends_at,
        seconds_remaining: now.secs_until_exact(if active { ends_at } else { starts_at }),
        schedule: (0..SCHEDULE_LEN)
            .map(|i| {
                let s = starts_at + i * WEEK;
                MerchantWindow {
                    starts_at: s,
                    ends_at: s + MERCHANT_DURATION,
                    state: Some(fluxion_state(s).to_owned()),
                }
            })
            .collect(),
    }
}

/// `HarvestWindow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarvestWindow {
    pub name: &'static str,
    pub active: bool,
    pub starts_at: i64,
    pub ends_at: i64,
}

/// `Gardening`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gardening {
    pub two_day: HarvestWindow,
    pub three_day: HarvestWindow,
    pub upcoming: Vec<HarvestWindow>,
}

/// Name of the 2-day plants' harvest window.
pub const TWO_DAY: &str = "2-day plants";
/// Name of the 3-day plants' harvest window.
pub const THREE_DAY: &str = "3-day plants";

/// `GET /gardening`: 2-day plants ripen on their cycle's 2nd day, 3-day
/// plants on their 3rd; both cycles run from Friday 2025-05-23 11:00 UTC.
pub fn gardening(now: Now) -> Gardening {
    let n = now.secs();
    let win = |name, s: i64| HarvestWindow { name, active: s <= n && n < s + DAY, starts_at: s, ends_at: s + DAY };
    let c2 = FIRST_GARDENING + 2 * DAY * fl(n - FIRST_GARDENING, 2 * DAY);
    let c3 = FIRST_GARDENING + 3 * DAY * fl(n - FIRST_GARDENING, 3 * DAY);
    let mut upcoming = Vec::with_capacity(16);
    for i in 0..8 {
        let s2 = c2 + (2 * i + 1) * DAY;
        if s2 > n {
            upcoming.push(win(TWO_DAY, s2));
        }
        let s3 = c3 + (3 * i + 2) * DAY;
        if s3 > n {
            upcoming.push(win(THREE_DAY, s3));
        }
    }
    // Stable: equal starts keep insertion order (a 3-day window can precede a 2-day one).
    upcoming.sort_by_key(|w| w.starts_at);
    upcoming.truncate(10);
    Gardening { two_day: win(TWO_DAY, c2 + DAY), three_day: win(THREE_DAY, c3 + 2 * DAY), upcoming }
}

/// The Chaos Chest week containing `n`: `[Tuesday 11:00 UTC, +7 days)`.
pub fn chaos_chest_window(n: i64) -> (i64, i64) {
    let starts_at = FIRST_FLUXION + WEEK * fl(n - FIRST_FLUXION, WEEK);
    (starts_at, starts_at + WEEK)
}

/// `ChallengeWindow`: the current (or, in the gap, the most recent) 20-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChallengeWindow {
    pub starts_at: i64,
    pub ends_at: i64,
    pub active: bool,
    pub is_friday_window: bool,
    pub seconds_remaining: i64,
}

/// Hourly challenges open at `:00`; on a Trove Friday (real UTC Friday 11:00
/// → Saturday 11:00) at `:00` and `:30`. Each lasts 20 minutes.
pub fn challenge_window(n: i64) -> ChallengeWindow {
    let minute = n - n.rem_euclid(60);
    let is_friday_window = trove_weekday(n) == 4;
    let cadence = if is_friday_window { 1800 } else { 3600 };
    let starts_at = minute - minute.rem_euclid(cadence);
    let ends_at = starts_at + CHALLENGE_WINDOW;
    ChallengeWindow {
        starts_at,
        ends_at,
        active: starts_at <= n && n < ends_at,
        is_friday_window,
        seconds_remaining: (ends_at - n).max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Now {
        Now::from_secs(secs).unwrap()
    }

    #[test]
    fn server_time_example() {
        let st = server_time(at(1_749_813_600));
        assert_eq!(st.trove_day, "Friday");
        assert_eq!(st.daily_reset_at, 1_749_898_800);
        assert_eq!(st.weekly_reset_at, 1_750_071_600);
        // Exactly at a reset the next one is a day later.
        assert_eq!(next_daily_reset(1_749_812_400), 1_749_898_800);
        assert_eq!(next_daily_reset(1_749_812_399), 1_749_812_400);
    }

    #[test]
    fn corruxion_boundaries() {
        let c = corruxion(at(1_746_183_600));
        assert!(c.active);
        assert_eq!((c.starts_at, c.ends_at, c.seconds_remaining), (1_746_183_600, 1_746_442_800, 259_200));
        let c = corruxion(at(1_746_183_599));
        assert!(!c.active);
        assert_eq!(c.seconds_remaining, 1);
        // Half a second before the anchor the original's truncation makes it "active".
        let c = corruxion(Now::from_millis(FIRST_CORRUXION * 1000 - 500).unwrap());
        assert!(c.active);
        assert_eq!((c.starts_at, c.seconds_remaining), (FIRST_CORRUXION, 259_200));
        // Sub-second countdowns floor.
        let c = corruxion(Now::from_millis(1_746_183_600_250).unwrap());
        assert_eq!(c.seconds_remaining, 259_199);
    }

    #[test]
    fn fluxion_example() {
        let f = fluxion(at(1_762_858_800));
        assert_eq!((f.active, f.state, f.starts_at), (true, "selling", 1_762_858_800));
        assert_eq!(f.schedule[1].state.as_deref(), Some("voting"));
        let f = fluxion(at(1_762_858_800 + MERCHANT_DURATION));
        assert_eq!((f.active, f.state), (false, "away"));
        assert_eq!(f.schedule[0].state.as_deref(), Some("voting"));
    }

    #[test]
    fn gardening_example_keeps_insertion_order_on_ties() {
        let g = gardening(at(1_749_813_600));
        assert!(g.two_day.active);
        assert_eq!((g.two_day.starts_at, g.two_day.ends_at), (1_749_812_400, 1_749_898_800));
        assert!(!g.three_day.active);
        assert_eq!(g.three_day.starts_at, 1_749_985_200);
        assert_eq!(g.upcoming.len(), 10);
        assert_eq!((g.upcoming[0].name, g.upcoming[0].starts_at), (THREE_DAY, 1_749_985_200));
        assert_eq!((g.upcoming[1].name, g.upcoming[1].starts_at), (TWO_DAY, 1_749_985_200));
    }

    #[test]
    fn challenge_windows() {
        // 2025-06-13T11:20:00Z, a Trove Friday: the 11:00 window has just closed.
        let w = challenge_window(1_749_813_600);
        assert_eq!(
            w,
            ChallengeWindow {
                starts_at: 1_749_812_400,
                ends_at: 1_749_813_600,
                active: false,
                is_friday_window: true,
                seconds_remaining: 0
            }
        );
        // 11:31 on a Trove Friday → the :30 window.
        assert_eq!(challenge_window(1_749_812_400 + 31 * 60).starts_at, 1_749_812_400 + 1800);
        // 10:59:59 on the Friday (still Trove Thursday) → hourly.
        let w = challenge_window(1_749_812_399);
        assert_eq!((w.starts_at, w.is_friday_window), (1_749_808_800, false));
    }
}
