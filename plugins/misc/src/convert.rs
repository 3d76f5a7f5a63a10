//! The time converter: request validation (`TimeConvertRequest`), resolving
//! the instant (unix, aware or naive datetime) and rendering it in every
//! supported zone plus the Discord timestamp codes.

use kiwi_sdk::Error;
use kiwi_sdk::validate::Loc;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::civil::{WallClock, days_from_civil};
use crate::isoformat;
use crate::lax::{self, PyInt};
use crate::zones::{self, MAX_UNIX, MIN_UNIX, Zone};

/// A validated `TimeConvertRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertRequest {
    pub datetime: Option<String>,
    pub timezone: String,
    pub unix: Option<PyInt>,
}

/// One zone's rendering of the instant.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ZoneTime {
    pub id: String,
    pub name: String,
    pub datetime: String,
    pub date: String,
    pub time: String,
}

/// A Discord `<t:unix:style>` code.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiscordTimestamp {
    pub style: String,
    pub label: String,
    pub code: String,
}

/// `TimeConvertResponse`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConvertResponse {
    pub unix: i64,
    pub iso_utc: String,
    pub zones: Vec<ZoneTime>,
    pub discord: Vec<DiscordTimestamp>,
}

/// `TimeNow`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TimeNow {
    pub unix: i64,
    pub zones: Vec<ZoneTime>,
}

/// What an unhandled exception (e.g. a datetime out of range) becomes.
pub fn internal_error() -> Error {
    Error::new(500, "internal_error", "Internal server error")
}

/// Validates the body like pydantic: all fields in order, all errors at once.
/// `raw` is the body text: an integer literal beyond 64 bits reaches serde as
/// a float, but Python reads it as an exact (huge) int.
pub fn validate(body: &Map<String, Value>, raw: &[u8]) -> Result<ConvertRequest, Error> {
    let mut errors = Vec::new();
    let datetime = match body.get("datetime") {
        None => None,
        Some(v) => lax::str_field(&Loc::body(&["datetime"]), v, true)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .map(str::to_owned),
    };
    let timezone = match body.get("timezone") {
        None => Some("UTC".to_owned()),
        Some(v) => lax::str_field(&Loc::body(&["timezone"]), v, false)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .map(str::to_owned),
    };
    let unix = match body.get("unix") {
        None => None,
        Some(Value::Number(n))
            if n.is_f64() && lax::top_level_literal(raw, "unix").is_some_and(lax::is_integer_literal) =>
        {
            Some(PyInt::Big)
        }
        Some(v) => lax::optional_int_field(&Loc::body(&["unix"]), v).map_err(|e| errors.push(e)).ok().flatten(),
    };
    match timezone {
        Some(timezone) if errors.is_empty() => Ok(ConvertRequest { datetime, timezone, unix }),
        _ => Err(Error::validation(errors)),
    }
}

/// Python's `int(total_us / 10**6)`: the true quotient rounded to the
/// nearest double, then truncated toward zero.
pub fn py_int_seconds(total_us: i128) -> i64 {
    let negative = total_us < 0;
    let a = total_us.unsigned_abs();
    let (q, r) = (a / 1_000_000, a % 1_000_000);
    let mut whole = q;
    if r != 0 && q > 0 {
        // Doubles near q are 2^k apart, k = floor(log2 q) - 52. The quotient
        // rounds up to q + 1 when 1 - r/1e6 is under half that spacing.
        let k = 127 - i64::from(q.leading_zeros()) - 52;
        let gap = 1_000_000 - r;
        let rounds_up = if k >= 1 {
            true
        } else {
            let shift = u32::try_from(1 - k).unwrap_or(u32::MAX);
            gap.checked_shl(shift).is_some_and(|g| g >> shift == gap && g < 1_000_000)
        };
        if rounds_up {
            whole += 1;
        }
    }
    let whole = i64::try_from(whole).unwrap_or(i64::MAX);
    if negative { -whole } else { whole }
}

/// Resolves the request to unix seconds (steps 1–5 of the spec).
pub fn resolve_unix(req: &ConvertRequest) -> Result<i64, Error> {
    if let Some(unix) = req.unix {
        return match unix {
            PyInt::Small(u) => Ok(u),
            PyInt::Big => Err(internal_error()),
        };
    }
    let text = match req.datetime.as_deref() {
        None | Some("") => {
            return Err(Error::bad_request("Provide either 'unix' or 'datetime'."));
        }
        Some(t) => t,
    };
    let parsed = isoformat::fromisoformat(text)
        .map_err(|msg| Error::bad_request(format!("Invalid datetime '{text}': {msg}")))?;
    let local = days_from_civil(parsed.year, parsed.month, parsed.day) * 86_400
        + i64::from(parsed.hour) * 3600
        + i64::from(parsed.minute) * 60
        + i64::from(parsed.second);
    let offset_us = match parsed.offset_us {
        Some(off) => off,
        None => {
            let table = zones::table()?;
            let zone = Zone::resolve(&req.timezone, table.trove_utc_offset_hours)
                .ok_or_else(|| Error::bad_request(format!("Unknown timezone '{}'.", req.timezone)))?;
            zone.offset_for_local(local) * 1_000_000
        }
    };
    let total_us = i128::from(local) * 1_000_000 + i128::from(parsed.microsecond) - i128::from(offset_us);
    Ok(py_int_seconds(total_us))
}

/// Every supported zone's view of `unix`; 500 when any falls outside the
/// years 1–9999 (Python raises there).
pub fn render_zones(unix: i64) -> Result<Vec<ZoneTime>, Error> {
    if !(MIN_UNIX..=MAX_UNIX).contains(&unix) {
        return Err(internal_error());
    }
    let table = zones::table()?;
    table
        .timezones
        .iter()
        .map(|(id, name)| {
            let zone = Zone::resolve(id, table.trove_utc_offset_hours).ok_or_else(internal_error)?;
            let offset = zone.offset_at_utc(unix);
            let local = unix + offset;
            if !(MIN_UNIX..=MAX_UNIX).contains(&local) {
                return Err(internal_error());
            }
            let wall = WallClock::from_epoch_seconds(local);
            Ok(ZoneTime {
                id: id.clone(),
                name: name.clone(),
                datetime: wall.isoformat(offset),
                date: wall.date_label(),
                time: wall.time(),
            })
        })
        .collect()
}

/// The full converter answer for `unix`.
pub fn render(unix: i64) -> Result<ConvertResponse, Error> {
    let zones = render_zones(unix)?;
    let table = zones::table()?;
    Ok(ConvertResponse {
        unix,
        iso_utc: WallClock::from_epoch_seconds(unix).isoformat(0),
        zones,
        discord: table
            .discord_styles
            .iter()
            .map(|(style, label)| DiscordTimestamp {
                style: style.clone(),
                label: label.clone(),
                code: format!("<t:{unix}:{style}>"),
            })
            .collect(),
    })
}

/// `POST /time/convert` end to end, from the raw body.
pub fn convert(raw_body: &[u8]) -> Result<ConvertResponse, Error> {
    let body = lax::parse_body(raw_body)?;
    let req = validate(&body, raw_body)?;
    render(resolve_unix(&req)?)
}

/// `GET /time/now` for the host clock in unix milliseconds.
pub fn now(now_millis: i64) -> Result<TimeNow, Error> {
    // int(datetime.now(UTC).timestamp()): truncation toward zero.
    let unix = now_millis / 1000;
    Ok(TimeNow { unix, zones: render_zones(unix)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn python_int_of_timestamps() {
        assert_eq!(py_int_seconds(1_500_000), 1);
        assert_eq!(py_int_seconds(-1_500_000), -1);
        assert_eq!(py_int_seconds(-500_000), 0);
        assert_eq!(py_int_seconds(999_999), 0);
        // 9999-12-31T23:59:59.999999Z rounds up to ...800.0 as a double.
        assert_eq!(py_int_seconds(253_402_300_799_999_999), 253_402_300_800);
        assert_eq!(py_int_seconds(-253_402_300_799_999_999), -253_402_300_800);
        assert_eq!(py_int_seconds(1_780_657_200_999_999), 1_780_657_200);
    }

    #[test]
    fn error_paths() {
        let req = |v: Value| {
            let raw = serde_json::to_vec(&v).unwrap_or_default();
            validate(&body(v), &raw).and_then(|r| resolve_unix(&r))
        };
        let e = req(json!({"timezone": "UTC"})).unwrap_err();
        assert_eq!(e.message, "Provide either 'unix' or 'datetime'.");
        let e = req(json!({"datetime": ""})).unwrap_err();
        assert_eq!(e.status, 400);
        let e = req(json!({"datetime": "not-a-date"})).unwrap_err();
        assert_eq!(e.message, "Invalid datetime 'not-a-date': Invalid isoformat string: 'not-a-date'");
        let e = req(json!({"datetime": "2026-06-05T00:00", "timezone": "Not/AZone"})).unwrap_err();
        assert_eq!(e.message, "Unknown timezone 'Not/AZone'.");
        // An offset or a unix makes the zone irrelevant, even an unknown one.
        assert!(req(json!({"datetime": "2026-06-05T00:00Z", "timezone": "x"})).is_ok());
        assert_eq!(req(json!({"unix": 5, "timezone": "x"})).unwrap(), 5);
        let e = req(json!({"unix": "99999999999999999999999"})).unwrap_err();
        assert_eq!(e.status, 500);
        let e = req(json!({"unix": "soon", "timezone": 3})).unwrap_err();
        assert_eq!(e.status, 422);
        let d = e.details.unwrap();
        assert_eq!(d[0]["loc"], json!(["body", "timezone"]));
        assert_eq!(d[1]["loc"], json!(["body", "unix"]));
        assert_eq!(render(MAX_UNIX).unwrap_err().status, 500);
        assert_eq!(render(MIN_UNIX).unwrap_err().status, 500);
        assert_eq!(render(i64::MAX).unwrap_err().status, 500);
    }

    #[test]
    fn now_truncates_toward_zero() {
        assert_eq!(now(1_700_000_000_999).unwrap().unix, 1_700_000_000);
        assert_eq!(now(-1_500).unwrap().unix, -1);
    }
}
