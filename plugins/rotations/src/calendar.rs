//! The yearly calendar: every recurring rotation expanded over ±365 days of
//! now as one flat timeline sorted by `(starts_at, type)`, plus the merchant
//! windows of the captured Luxion runs.
//!
//! Window bounds keep the clock's milliseconds (the original compares against
//! the exact instant), so an occurrence starting exactly at `floor(now)+365d`
//! is included when now has a sub-second part.

use serde::Serialize;

use crate::biomes::{STAMPY_DURATION, STAMPY_PERIOD, mana_biomes, stampy_biome};
use crate::luxion::schedule_for;
use crate::schedule::{CORRUXION_PERIOD, MERCHANT_DURATION, THREE_DAY, TWO_DAY};
use crate::tables::{Biome, Tables};
use crate::time::{
    DAY, FIRST_CORRUXION, FIRST_FLUXION, FIRST_GARDENING, FIRST_WEEK_BUFF, MANA_BASE, Now, STAMPY_BASE, WEEK, fl,
};

/// Half-width of the calendar window (365 days).
pub const HALF_WINDOW: i64 = 365 * DAY;

/// A biome on the calendar: `{name, icon}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarBiome {
    pub name: String,
    pub icon: String,
}

impl From<Biome> for CalendarBiome {
    fn from(b: Biome) -> Self {
        Self { name: b.name, icon: b.icon }
    }
}

/// `CalendarEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub color: Option<String>,
    pub state: Option<&'static str>,
    pub biomes: Option<Vec<CalendarBiome>>,
}

/// `YearlyCalendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearlyCalendar {
    pub starts_at: i64,
    pub ends_at: i64,
    pub generated_at: i64,
    pub count: usize,
    pub events: Vec<CalendarEvent>,
}

/// The calendar window in unix milliseconds.
#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    end_ms: i64,
}

impl Window {
    /// `(k, start)` of every `period`-spaced occurrence of `base` from one
    /// period before the window up to (excluding) the window's end.
    fn occurrences(self, base: i64, period: i64) -> impl Iterator<Item = (i64, i64)> {
        let k0 = fl(self.start_ms - base * 1000, period * 1000) - 1;
        (k0..).map(move |k| (k, base + k * period)).take_while(move |(_, s)| s * 1000 < self.end_ms)
    }

    fn overlaps(self, start: i64, end: i64) -> bool {
        end * 1000 > self.start_ms && start * 1000 < self.end_ms
    }
}

fn event(kind: &'static str, name: &str, starts_at: i64, ends_at: i64) -> CalendarEvent {
    CalendarEvent { kind, name: name.to_owned(), starts_at, ends_at, color: None, state: None, biomes: None }
}

fn weekly_buffs(t: &Tables, w: Window, out: &mut Vec<CalendarEvent>) {
    if t.weekly_buffs.is_empty() {
        return;
    }
    for (k, s) in w.occurrences(FIRST_WEEK_BUFF, WEEK) {
        if w.overlaps(s, s + WEEK) {
            let buff = t.weekly(k);
            let name = buff.map_or("Weekly Buff", |b| b.name.as_str());
            out.push(CalendarEvent { color: buff.map(|b| b.color.clone()), ..event("weekly_buff", name, s, s + WEEK) });
        }
    }
}

fn corruxion(w: Window, out: &mut Vec<CalendarEvent>) {
    for (_, s) in w.occurrences(FIRST_CORRUXION, CORRUXION_PERIOD) {
        if w.overlaps(s, s + MERCHANT_DURATION) {
            out.push(event("corruxion", "Corruxion", s, s + MERCHANT_DURATION));
        }
    }
}

fn fluxion(w: Window, out: &mut Vec<CalendarEvent>) {
    for (_, s) in w.occurrences(FIRST_FLUXION, 2 * WEEK) {
        for (start, name, state, color) in
            [(s, "Fluxion (Voting)", "voting", "5ca8cc"), (s + WEEK, "Fluxion (Selling)", "selling", "02679e")]
        {
            if w.overlaps(start, start + MERCHANT_DURATION) {
                out.push(CalendarEvent {
                    color: Some(color.to_owned()),
                    state: Some(state),
                    ..event("fluxion", name, start, start + MERCHANT_DURATION)
                });
            }
        }
    }
}

fn luxion(runs: &[i64], w: Window, out: &mut Vec<CalendarEvent>) {
    for &day_anchor in runs {
        for win in schedule_for(day_anchor, None) {
            if w.overlaps(win.starts_at, win.ends_at) {
                out.push(event("luxion", "Luxion", win.starts_at, win.ends_at));
            }
        }
    }
}

fn gardening(w: Window, out: &mut Vec<CalendarEvent>) {
    for (kind, name, cycle_days, color) in
        [("gardening_2", TWO_DAY, 2, "8bc34a"), ("gardening_3", THREE_DAY, 3, "4caf50")]
    {
        for (_, s) in w.occurrences(FIRST_GARDENING, cycle_days * DAY) {
            let h_start = s + (cycle_days - 1) * DAY;
            let h_end = s + cycle_days * DAY;
            if w.overlaps(h_start, h_end) {
                out.push(CalendarEvent { color: Some(color.to_owned()), ..event(kind, name, h_start, h_end) });
            }
        }
    }
}

fn biomes_of(list: Vec<Biome>) -> Option<Vec<CalendarBiome>> {
    Some(list.into_iter().map(Into::into).collect())
}

fn stampy(t: &Tables, w: Window, out: &mut Vec<CalendarEvent>) {
    for (k, s) in w.occurrences(STAMPY_BASE, STAMPY_PERIOD) {
        if w.overlaps(s, s + STAMPY_DURATION) {
            out.push(CalendarEvent {
                biomes: biomes_of(stampy_biome(t, k)),
                ..event("stampy", "Stampy", s, s + STAMPY_DURATION)
            });
        }
    }
}

fn mana(t: &Tables, w: Window, out: &mut Vec<CalendarEvent>) {
    for (k, s) in w.occurrences(MANA_BASE, WEEK) {
        if w.overlaps(s, s + WEEK) {
            out.push(CalendarEvent { biomes: biomes_of(mana_biomes(t, k)), ..event("mana", "Wild Mana", s, s + WEEK) });
        }
    }
}

/// `GET /calendar`. `luxion_runs` are the captured run-start days.
pub fn yearly_calendar(t: &Tables, now: Now, luxion_runs: &[i64]) -> YearlyCalendar {
    let w = Window { start_ms: now.millis() - HALF_WINDOW * 1000, end_ms: now.millis() + HALF_WINDOW * 1000 };
    let mut events = Vec::with_capacity(1100);
    weekly_buffs(t, w, &mut events);
    corruxion(w, &mut events);
    fluxion(w, &mut events);
    luxion(luxion_runs, w, &mut events);
    gardening(w, &mut events);
    stampy(t, w, &mut events);
    mana(t, w, &mut events);
    // Stable: ties on (start, type) keep generation order.
    events.sort_by(|a, b| (a.starts_at, a.kind).cmp(&(b.starts_at, b.kind)));
    YearlyCalendar {
        // The original's `int(timestamp)`; the clock is never before 1970 so this floors.
        starts_at: w.start_ms.div_euclid(1000),
        ends_at: w.end_ms.div_euclid(1000),
        generated_at: now.secs(),
        count: events.len(),
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::tables;

    #[test]
    fn sub_second_now_includes_an_occurrence_starting_at_the_floor_end() {
        let t = tables().unwrap();
        // A gardening_2 harvest starts at G0 + D; put the window end exactly there.
        let n = FIRST_GARDENING + DAY - HALF_WINDOW;
        let whole = yearly_calendar(t, Now::from_secs(n).unwrap(), &[]);
        let frac = yearly_calendar(t, Now::from_millis(n * 1000 + 1).unwrap(), &[]);
        let has = |c: &YearlyCalendar| {
            c.events.iter().any(|e| e.kind == "gardening_2" && e.starts_at == FIRST_GARDENING + DAY)
        };
        assert!(!has(&whole));
        assert!(has(&frac));
    }

    #[test]
    fn luxion_runs_add_their_windows() {
        let t = tables().unwrap();
        let now = Now::from_secs(1_784_646_360).unwrap();
        let without = yearly_calendar(t, now, &[]);
        let with = yearly_calendar(t, now, &[1_784_631_600]);
        let lux: Vec<_> = with.events.iter().filter(|e| e.kind == "luxion").collect();
        // Without a sighting time the run starts at the day's reset: the grid
        // gives 5 windows in the 6 days.
        assert_eq!(lux.len(), schedule_for(1_784_631_600, None).len());
        assert!(!lux.is_empty());
        assert_eq!(with.count, without.count + lux.len());
        assert!(with.events.windows(2).all(|p| (p[0].starts_at, p[0].kind) <= (p[1].starts_at, p[1].kind)));
    }
}
