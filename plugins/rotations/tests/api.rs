//! Route-level tests of the rotations plugin through `TestClient`: every
//! reference vector, rule invariants at many other instants, the capture
//! routes (insert, idempotency, history paging), error paths and the
//! OpenAPI docs of every route.

use kiwi_plugin_rotations::plugin;
use kiwi_sdk::testing::{TestClient, TestResponse};
use serde_json::{Value, json};

const VECTORS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/rotations.jsonl"));

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
/// 2025-06-13T11:20:00Z, a Friday (and a Trove Friday).
const EXAMPLE_NOW: i64 = 1_749_813_600;

fn client(now: i64) -> TestClient {
    TestClient::new(plugin()).now(now)
}

fn master(now: i64) -> TestClient {
    TestClient::new(plugin()).now(now).as_master()
}

/// Paths (JSON-pointer style) where two values differ, at most `max` of them.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>, max: usize) {
    if out.len() >= max {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff(&p, va, vb, out, max),
                    (va, vb) => out.push(format!("{p}: actual {va:?} vs expected {vb:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: length {} vs expected {}", x.len(), y.len()));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}/{i}"), va, vb, out, max);
            }
        }
        _ if a != b => out.push(format!("{path}: actual {a} vs expected {b}")),
        _ => {}
    }
}

/// Fields the vectors drop because they depend on stored captures (rotations.md §3).
fn dropped_fields(endpoint: &str) -> &'static [&'static str] {
    match endpoint {
        "/v1/rotations/chaos-chest" => &["item", "fetched_at"],
        "/v1/rotations/challenge/current" => &["name", "type", "captured_at"],
        _ => &[],
    }
}

fn query_string(q: &Value) -> String {
    q.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    format!("{k}={v}")
                })
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_default()
}

#[test]
fn every_reference_vector_matches() {
    let c = client(0);
    let mut failures = Vec::new();
    let mut per_endpoint = std::collections::BTreeMap::<String, usize>::new();
    for (line_no, line) in VECTORS.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("vector line is JSON");
        let endpoint = v["endpoint"].as_str().expect("endpoint");
        let now = v["now"].as_i64().expect("now");
        let path = endpoint.strip_prefix("/v1/rotations").expect("rotations endpoint");
        let qs = query_string(&v["query"]);
        let url = if qs.is_empty() { path.to_owned() } else { format!("{path}?{qs}") };
        c.set_now_millis(now * 1000);
        let res = c.get(&url).send();
        *per_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        if res.status != 200 {
            failures.push(format!("line {}: {endpoint} @{now}: status {}", line_no + 1, res.status));
            continue;
        }
        let mut actual = res.json();
        for f in dropped_fields(endpoint) {
            let removed = actual.as_object_mut().and_then(|o| o.remove(*f));
            // With an empty store the dropped fields are present and null.
            assert_eq!(removed, Some(Value::Null), "{endpoint} @{now}: {f}");
        }
        let mut d = Vec::new();
        diff("", &actual, &v["expected"], &mut d, 5);
        if !d.is_empty() {
            failures.push(format!("line {}: {endpoint} @{now}:\n  {}", line_no + 1, d.join("\n  ")));
        }
    }
    let total: usize = per_endpoint.values().sum();
    assert!(
        failures.is_empty(),
        "{} of {total} vectors differ:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert_eq!(total, 664, "{per_endpoint:?}");
    for ep in [
        "server-time",
        "daily-buffs",
        "weekly-buffs",
        "corruxion",
        "fluxion",
        "gardening",
        "chaos-chest",
        "challenge/current",
        "calendar",
        "biomes",
        "wild-mana",
        "stampy",
    ] {
        assert!(per_endpoint.contains_key(&format!("/v1/rotations/{ep}")), "{ep} untested");
    }
}

// --- Rule invariants at instants the vectors do not cover ---------------------------

/// Instants every ~2.9 days (drifting through the day) across 2019..2031, plus anchor boundaries ± 1 s.
fn sweep() -> Vec<i64> {
    let mut out: Vec<i64> = (1_546_300_800..1_924_992_000).step_by(250_013).collect();
    for anchor in
        [1_584_961_200, 1_709_895_600, 1_689_678_000, 1_747_998_000, 1_718_708_400, 1_700_478_000, 1_695_639_600]
    {
        for k in -3..3 {
            for d in [-1, 0, 1] {
                out.push(anchor + k * 14 * DAY + d);
                out.push(anchor + k * 14 * DAY + 3 * DAY + d);
            }
        }
    }
    out
}

fn get_json(c: &TestClient, path: &str) -> Value {
    let res = c.get(path).send();
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.json()
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn invariants_hold_across_instants() {
    let c = client(0);
    let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    for n in sweep() {
        c.set_now_millis(n * 1000);
        let trove_wd = ((n - 39_600).div_euclid(DAY) + 3).rem_euclid(7);

        let st = get_json(&c, "/server-time");
        assert_eq!(i(&st["now_unix"]), n);
        assert_eq!(st["trove_day"], weekdays[trove_wd as usize]);
        let dr = i(&st["daily_reset_at"]);
        assert!(dr > n && dr - DAY <= n && dr.rem_euclid(DAY) == 39_600, "{n}");
        let wr = i(&st["weekly_reset_at"]);
        assert!(wr > n && wr - WEEK <= n && (wr.div_euclid(DAY) + 3).rem_euclid(7) == 0, "{n}");

        let db = get_json(&c, "/daily-buffs");
        assert_eq!(db["current"], db["week"][trove_wd as usize], "{n}");

        for (path, period) in [("/corruxion", 14 * DAY), ("/fluxion", WEEK)] {
            let m = get_json(&c, path);
            let (s, e) = (i(&m["starts_at"]), i(&m["ends_at"]));
            assert_eq!(e - s, 3 * DAY);
            let active = m["active"].as_bool().unwrap();
            if active {
                assert!(s <= n && n < e, "{path} {n}");
                assert_eq!(i(&m["seconds_remaining"]), e - n);
            } else {
                assert!(n < s && s - period + 3 * DAY <= n, "{path} {n}");
                assert_eq!(i(&m["seconds_remaining"]), s - n);
            }
            let sched = m["schedule"].as_array().unwrap();
            assert_eq!(sched.len(), 8);
            for (k, w) in sched.iter().enumerate() {
                assert_eq!(i(&w["starts_at"]), s + k as i64 * period);
            }
            assert_eq!(s.rem_euclid(DAY), 39_600);
        }
        let fx = get_json(&c, "/fluxion");
        let week_no = (i(&fx["starts_at"]) - 1_689_678_000) / WEEK;
        let parity = if week_no.rem_euclid(2) == 0 { "voting" } else { "selling" };
        assert_eq!(fx["schedule"][0]["state"], parity);
        let expect_state = if fx["active"] == json!(true) { parity } else { "away" };
        assert_eq!(fx["state"], expect_state);

        let g = get_json(&c, "/gardening");
        let up = g["upcoming"].as_array().unwrap();
        assert_eq!(up.len(), 10);
        assert!(up.iter().all(|w| i(&w["starts_at"]) > n && w["active"] == json!(false)));
        assert!(up.windows(2).all(|p| i(&p[0]["starts_at"]) <= i(&p[1]["starts_at"])));
        for key in ["two_day", "three_day"] {
            let w = &g[key];
            let (s, e) = (i(&w["starts_at"]), i(&w["ends_at"]));
            assert_eq!(w["active"], json!(s <= n && n < e));
        }

        let cc = get_json(&c, "/chaos-chest");
        let s = i(&cc["starts_at"]);
        assert!(s <= n && n < s + WEEK && cc["active"] == json!(true));
        assert_eq!((s.div_euclid(DAY) + 3).rem_euclid(7), 1, "chaos week starts on Tuesday");

        let ch = get_json(&c, "/challenge/current");
        let s = i(&ch["starts_at"]);
        assert_eq!(i(&ch["ends_at"]) - s, 1200);
        assert!(s <= n && n - s < 3600);
        assert_eq!(ch["is_friday_window"], json!(trove_wd == 4));
        assert_eq!(ch["active"], json!(n < s + 1200));

        let b = get_json(&c, "/biomes");
        let s = i(&b["current"]["starts_at"]);
        assert!(s <= n && n < s + 10_800);
        assert_eq!(b["upcoming"].as_array().unwrap().len(), 16);

        let wm = get_json(&c, "/wild-mana");
        let s = i(&wm["current"]["starts_at"]);
        assert!(s <= n && n < s + WEEK);
        assert_eq!(wm["upcoming"][0]["biomes"][1], wm["current"]["biomes"][0]);

        let sp = get_json(&c, "/stampy");
        let e = i(&sp["current"]["ends_at"]);
        assert!(e > n && e - 2 * DAY <= n + 14 * DAY);
        assert_eq!(sp["upcoming"].as_array().unwrap().len(), 7);
    }
}

#[test]
fn calendar_is_sorted_and_covers_the_window() {
    let c = client(0);
    for n in [1_600_000_000, 1_749_813_600, 1_800_000_123] {
        c.set_now_millis(n * 1000 + 250);
        let cal = get_json(&c, "/calendar");
        assert_eq!(i(&cal["generated_at"]), n);
        assert_eq!(i(&cal["starts_at"]), n - 365 * DAY);
        assert_eq!(i(&cal["ends_at"]), n + 365 * DAY);
        let events = cal["events"].as_array().unwrap();
        assert_eq!(i(&cal["count"]) as usize, events.len());
        assert!((1_020..=1_040).contains(&events.len()), "{}", events.len());
        for p in events.windows(2) {
            let a = (i(&p[0]["starts_at"]), p[0]["type"].as_str().unwrap());
            let b = (i(&p[1]["starts_at"]), p[1]["type"].as_str().unwrap());
            assert!(a <= b, "{a:?} > {b:?}");
        }
        for e in events {
            assert!(i(&e["ends_at"]) > n - 365 * DAY && i(&e["starts_at"]) <= n + 365 * DAY);
            for k in ["color", "state", "biomes"] {
                assert!(e.get(k).is_some(), "{k} missing");
            }
        }
    }
}

#[test]
fn sub_second_clock() {
    let c = client(0);
    c.set_now_millis(1_746_183_600_250);
    let st = get_json(&c, "/server-time");
    assert_eq!(st["now_unix"], 1_746_183_600);
    assert_eq!(st["now_iso"], "2025-05-02T11:00:00.250000+00:00");
    let cx = get_json(&c, "/corruxion");
    assert_eq!((cx["active"].clone(), cx["seconds_remaining"].clone()), (json!(true), json!(259_199)));
    let ch = get_json(&c, "/chaos-chest");
    assert_eq!(i(&ch["seconds_remaining"]), i(&ch["ends_at"]) - 1_746_183_600);
}

#[test]
fn clock_outside_the_supported_range_is_a_clean_500() {
    let c = client(0);
    c.set_now_millis(-1);
    let res = c.get("/server-time").send();
    assert_eq!(res.status, 500);
    assert_eq!(res.json()["error"]["code"], "internal");
    c.set_now_millis(i64::MAX);
    assert_eq!(c.get("/calendar").send().status, 500);
}

#[test]
fn unknown_query_parameters_are_ignored_on_reads() {
    let c = client(EXAMPLE_NOW);
    assert_eq!(get_json(&c, "/corruxion?x=1&limit=abc"), get_json(&c, "/corruxion"));
}

// --- Captures --------------------------------------------------------------------

fn post(c: &TestClient, path: &str, body: Value) -> TestResponse {
    c.post(path).json(&body).send()
}

fn error_of(res: &TestResponse) -> Value {
    res.json()["error"].clone()
}

#[test]
fn chaos_chest_capture_insert_read_and_idempotency() {
    let c = master(EXAMPLE_NOW);
    let week = 1_749_553_200; // Tuesday 2025-06-10 11:00 UTC
    let before = get_json(&c, "/chaos-chest");
    assert_eq!((before["item"].clone(), before["fetched_at"].clone()), (Value::Null, Value::Null));

    let res = post(&c, "/chaos-chest/insert", json!({"name": "  Shadow Dragon Egg \n"}));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json(), json!({"anchor": week, "name": "Shadow Dragon Egg", "refreshed": false}));

    let cc = get_json(&c, "/chaos-chest");
    assert_eq!(
        cc,
        json!({"active": true, "starts_at": week, "ends_at": week + WEEK,
               "seconds_remaining": week + WEEK - EXAMPLE_NOW,
               "item": {"name": "Shadow Dragon Egg", "identifier": null, "blueprint": null, "image_url": null},
               "fetched_at": "2025-06-13T11:20:00Z"})
    );

    // Same name later in the week: still one capture, refreshed.
    c.set_now_millis((week + WEEK - 1) * 1000 + 500);
    let res = post(&c, "/chaos-chest/insert", json!({"name": "Shadow Dragon Egg"}));
    assert_eq!(res.json()["refreshed"], true);
    // A different name in the same week replaces the stored one.
    let res = post(&c, "/chaos-chest/insert", json!({"name": "Crystal Box"}));
    assert_eq!(res.json(), json!({"anchor": week, "name": "Crystal Box", "refreshed": true}));
    let cc = get_json(&c, "/chaos-chest");
    assert_eq!(cc["item"]["name"], "Crystal Box");
    assert_eq!(cc["fetched_at"], "2025-06-17T10:59:59.500000Z");
    let h = get_json(&c, "/chaos-chest/history");
    assert_eq!((h["count"].clone(), h["total"].clone()), (json!(1), json!(1)));

    // The next week (Tuesday 11:00 UTC) has no item until captured.
    c.set_now_millis((week + WEEK) * 1000);
    let cc = get_json(&c, "/chaos-chest");
    assert_eq!((cc["starts_at"].clone(), cc["item"].clone()), (json!(week + WEEK), Value::Null));
    // ...and its capture goes to the new week.
    let res = post(&c, "/chaos-chest/insert", json!({"name": "Next"}));
    assert_eq!(res.json(), json!({"anchor": week + WEEK, "name": "Next", "refreshed": false}));
}

#[test]
fn chaos_chest_history_pages_newest_first() {
    let first_week = 1_689_678_000 + 10 * WEEK;
    let c = master(first_week);
    // 60 weeks of captures crosses a kv bucket boundary.
    for k in 0..60 {
        c.set_now_millis((first_week + k * WEEK + 3600) * 1000);
        let res = post(&c, "/chaos-chest/insert", json!({"name": format!("item {k}")}));
        assert_eq!(res.json()["refreshed"], false, "{k}");
    }
    let all = get_json(&c, "/chaos-chest/history?limit=200");
    assert_eq!((all["count"].clone(), all["total"].clone()), (json!(60), json!(60)));
    let items = all["items"].as_array().unwrap();
    for (idx, it) in items.iter().enumerate() {
        let k = 59 - idx as i64;
        assert_eq!(
            it,
            &json!({"week_anchor": first_week + k * WEEK, "week_ends_at": first_week + (k + 1) * WEEK,
                    "name": format!("item {k}"), "captured_at": it["captured_at"].clone()})
        );
        assert!(it["captured_at"].as_str().unwrap().ends_with(":00Z"));
    }
    let def = get_json(&c, "/chaos-chest/history");
    assert_eq!(def["count"], 50);
    let page = get_json(&c, "/chaos-chest/history?limit=7&offset=5");
    assert_eq!(page["count"], 7);
    assert_eq!(page["total"], 60);
    assert_eq!(page["items"].as_array().unwrap()[..], items[5..12]);
    let tail = get_json(&c, "/chaos-chest/history?limit=10&offset=55");
    assert_eq!(tail["items"].as_array().unwrap()[..], items[55..]);
    let past = get_json(&c, "/chaos-chest/history?offset=1000");
    assert_eq!((past["count"].clone(), past["total"].clone(), past["items"].clone()), (json!(0), json!(60), json!([])));
}

#[test]
fn challenge_capture_insert_current_and_history() {
    // 2025-06-13T11:05:00Z, Trove Friday, inside the 11:00 window.
    let t = 1_749_812_400 + 300;
    let c = master(t);
    let cur = get_json(&c, "/challenge/current");
    assert_eq!(
        (cur["name"].clone(), cur["type"].clone(), cur["captured_at"].clone()),
        (Value::Null, Value::Null, Value::Null)
    );

    let res = post(&c, "/challenge/insert", json!({"name": " RAMPAGE ALERT! "}));
    assert_eq!(res.json(), json!({"anchor": 1_749_812_400, "name": "RAMPAGE ALERT!", "refreshed": false}));
    let cur = get_json(&c, "/challenge/current");
    assert_eq!(
        cur,
        json!({"starts_at": 1_749_812_400, "ends_at": 1_749_813_600, "active": true, "is_friday_window": true,
               "seconds_remaining": 900, "name": "RAMPAGE ALERT!", "type": "rampage",
               "captured_at": "2025-06-13T11:05:00Z"})
    );
    // In the gap after the window (11:25) the capture goes to the window that just closed.
    c.set_now_millis((1_749_812_400 + 1500) * 1000);
    let res = post(&c, "/challenge/insert", json!({"name": "Cursed Vale"}));
    assert_eq!(res.json(), json!({"anchor": 1_749_812_400, "name": "Cursed Vale", "refreshed": true}));
    let cur = get_json(&c, "/challenge/current");
    assert_eq!((cur["active"].clone(), cur["type"].clone()), (json!(false), json!("dungeon")));
    // The :30 window of a Trove Friday is a new window.
    c.set_now_millis((1_749_812_400 + 1800) * 1000);
    assert_eq!(get_json(&c, "/challenge/current")["name"], Value::Null);
    let res = post(&c, "/challenge/insert", json!({"name": "Collection Challenge"}));
    assert_eq!(res.json()["anchor"], 1_749_812_400 + 1800);
    assert_eq!(get_json(&c, "/challenge/current")["type"], "collection");

    let h = get_json(&c, "/challenge/history");
    assert_eq!(
        h,
        json!({"items": [
            {"window_anchor": 1_749_814_200, "window_ends_at": 1_749_815_400, "name": "Collection Challenge",
             "type": "collection", "is_friday_window": true, "captured_at": "2025-06-13T11:30:00Z"},
            {"window_anchor": 1_749_812_400, "window_ends_at": 1_749_813_600, "name": "Cursed Vale",
             "type": "dungeon", "is_friday_window": true, "captured_at": "2025-06-13T11:25:00Z"}],
            "count": 2, "total": 2})
    );
}

#[test]
fn challenge_history_across_days() {
    let start = 1_749_600_000; // 2025-06-11T00:00:00Z
    let c = master(start);
    let mut anchors = Vec::new();
    // Every 30 minutes for 3 days: hourly windows get one capture (the second
    // insert of the hour lands in the same window), Trove-Friday ones two.
    for k in 0..144 {
        let t = start + k * 1800 + 60;
        c.set_now_millis(t * 1000);
        let res = post(&c, "/challenge/insert", json!({"name": format!("Dungeon {k}")}));
        assert_eq!(res.status, 200);
        let a = i(&res.json()["anchor"]);
        if anchors.last() != Some(&a) {
            anchors.push(a);
            assert_eq!(res.json()["refreshed"], false);
        } else {
            assert_eq!(res.json()["refreshed"], true);
        }
    }
    anchors.reverse();
    let all = get_json(&c, "/challenge/history?limit=500");
    assert_eq!(i(&all["total"]) as usize, anchors.len());
    let got: Vec<i64> = all["items"].as_array().unwrap().iter().map(|x| i(&x["window_anchor"])).collect();
    assert_eq!(got, anchors);
    let page = get_json(&c, "/challenge/history?limit=30&offset=20");
    let got: Vec<i64> = page["items"].as_array().unwrap().iter().map(|x| i(&x["window_anchor"])).collect();
    assert_eq!(got, anchors[20..50]);
}

#[test]
fn challenge_rejects_blank_and_none() {
    let c = master(EXAMPLE_NOW);
    for name in ["", "   ", "none", " NoNe\t"] {
        let res = post(&c, "/challenge/insert", json!({ "name": name }));
        assert_eq!(res.status, 400, "{name:?}");
        let e = error_of(&res);
        assert_eq!(e["code"], "bad_request");
        assert_eq!(e["message"], "challenge name is empty or 'none'");
    }
    assert_eq!(get_json(&c, "/challenge/history")["total"], 0);
    // "none" is only special for challenges.
    assert_eq!(post(&c, "/chaos-chest/insert", json!({"name": "none"})).status, 200);
    let res = post(&c, "/chaos-chest/insert", json!({"name": " \n "}));
    assert_eq!((res.status, error_of(&res)["message"].clone()), (400, json!("name is empty")));
}

#[test]
fn inserts_are_master_only() {
    for path in ["/chaos-chest/insert", "/challenge/insert", "/luxion/insert"] {
        let anon = client(EXAMPLE_NOW);
        let res = post(&anon, path, json!({"name": "x"}));
        assert_eq!(res.status, 403, "{path}");
        assert_eq!(error_of(&res)["code"], "forbidden");
        // Reads stay empty.
        assert_eq!(get_json(&anon, "/chaos-chest")["item"], Value::Null);
        assert_eq!(anon.get(path).send().status, 405, "{path} is POST only");
    }
    let p = plugin();
    for r in &p.manifest().routes {
        if r.method == "POST" {
            assert_eq!(r.access, kiwi_sdk::Access::Master, "{}", r.path);
        } else {
            assert_eq!(r.access, kiwi_sdk::Access::Public, "{}", r.path);
            assert_eq!(r.scope.as_deref(), Some("rotations:read"), "{}", r.path);
        }
    }
}

#[test]
fn insert_body_errors_name_the_field() {
    let c = master(EXAMPLE_NOW);
    for path in ["/chaos-chest/insert", "/challenge/insert"] {
        let res = c.post(path).send();
        assert_eq!(res.status, 422);
        assert_eq!(error_of(&res)["details"][0]["loc"], json!(["body"]));

        let res = c.post(path).body("{\"name\": ").send();
        assert_eq!((res.status, error_of(&res)["code"].clone()), (400, json!("bad_request")));

        let res = post(&c, path, json!({"nom": "x"}));
        assert_eq!(res.status, 422);
        let e = error_of(&res);
        assert_eq!(e["code"], "validation_error");
        assert_eq!(
            e["details"][0],
            json!({"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {"nom": "x"}})
        );

        let res = post(&c, path, json!({"name": ["x"]}));
        assert_eq!(
            error_of(&res)["details"][0],
            json!({"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string", "input": ["x"]})
        );

        let res = post(&c, path, json!("x"));
        assert_eq!(error_of(&res)["details"][0]["type"], "model_attributes_type");

        let res = post(&c, path, json!({"name": "y".repeat(257)}));
        assert_eq!(error_of(&res)["details"][0]["type"], "string_too_long");
    }
    assert_eq!(get_json(&c, "/chaos-chest/history")["total"], 0);
    assert_eq!(get_json(&c, "/challenge/history")["total"], 0);
}

#[test]
fn history_query_errors_name_the_field() {
    let c = client(EXAMPLE_NOW);
    for (path, max) in [("/chaos-chest/history", 200), ("/challenge/history", 500), ("/luxion/history", 200)] {
        assert_eq!(c.get(&format!("{path}?limit={max}")).send().status, 200);
        let res = c.get(&format!("{path}?limit={}", max + 1)).send();
        assert_eq!(res.status, 422, "{path}");
        assert_eq!(
            error_of(&res)["details"][0],
            json!({"type": "less_than_equal", "loc": ["query", "limit"],
                   "msg": format!("Input should be less than or equal to {max}"),
                   "input": (max + 1).to_string(), "ctx": {"le": max}})
        );
        let res = c.get(&format!("{path}?limit=0")).send();
        assert_eq!(error_of(&res)["details"][0]["ctx"], json!({"ge": 1}));
        let res = c.get(&format!("{path}?offset=-1")).send();
        assert_eq!(error_of(&res)["details"][0]["loc"], json!(["query", "offset"]));
        let res = c.get(&format!("{path}?limit=ten&offset=x")).send();
        let d = error_of(&res)["details"].clone();
        assert_eq!((d[0]["type"].clone(), d[0]["input"].clone()), (json!("int_parsing"), json!("ten")));
        assert_eq!(d[1]["loc"], json!(["query", "offset"]));
    }
}

#[test]
fn luxion_capture_runs_and_history() {
    // No sighting yet: the constant body.
    let c = master(1_784_646_360);
    assert_eq!(
        get_json(&c, "/luxion"),
        json!({"active": false, "merchant_open": false, "starts_at": null, "ends_at": null,
               "seconds_remaining": 0, "current_window": null, "next_window": null, "schedule": [],
               "first_seen_at": null, "last_seen_at": null})
    );
    assert!(!get_json(&c, "/calendar")["events"].as_array().unwrap().iter().any(|e| e["type"] == "luxion"));

    // First sighting 2026-07-21 15:06 UTC opens a run on that trove day.
    let res = c.post("/luxion/insert").send();
    assert_eq!(res.json(), json!({"anchor": 1_784_631_600, "name": "luxion", "refreshed": false}));
    let l = get_json(&c, "/luxion");
    assert_eq!((l["active"].clone(), l["merchant_open"].clone()), (json!(true), json!(false)));
    assert_eq!(
        (i(&l["starts_at"]), i(&l["ends_at"]), i(&l["seconds_remaining"])),
        (1_784_646_360, 1_785_150_000, 39_240)
    );
    assert_eq!(l["next_window"], json!({"starts_at": 1_784_685_600, "ends_at": 1_784_696_400, "state": "Day 1"}));
    assert_eq!(l["schedule"].as_array().unwrap().len(), 5);

    // Hourly re-sightings inside the run refresh it, even days later.
    c.set_now_millis(1_785_149_999_000);
    let res = c.post("/luxion/insert").send();
    assert_eq!(res.json(), json!({"anchor": 1_784_631_600, "name": "luxion", "refreshed": true}));
    let l = get_json(&c, "/luxion");
    assert_eq!(l["first_seen_at"], "2026-07-21T15:06:00Z");
    assert_eq!(l["last_seen_at"], "2026-07-27T10:59:59Z");

    // The calendar shows the run's windows (from the day's reset).
    let cal = get_json(&c, "/calendar");
    let lux: Vec<&Value> = cal["events"].as_array().unwrap().iter().filter(|e| e["type"] == "luxion").collect();
    assert_eq!(lux.len(), 5);
    assert_eq!(
        lux[0],
        &json!({"type": "luxion", "name": "Luxion", "starts_at": 1_784_685_600,
        "ends_at": 1_784_696_400, "color": null, "state": null, "biomes": null})
    );

    // After the run's end reset a sighting opens a new run.
    c.set_now_millis(1_785_150_000_000 + 28 * DAY * 1000);
    let res = c.post("/luxion/insert").send();
    let new_anchor = 1_785_150_000 + 28 * DAY;
    assert_eq!(res.json(), json!({"anchor": new_anchor, "name": "luxion", "refreshed": false}));
    let h = get_json(&c, "/luxion/history");
    assert_eq!(h["total"], 2);
    assert_eq!(
        h["items"][0],
        json!({"started_at": new_anchor, "ends_at": new_anchor + 6 * DAY,
               "first_seen_at": "2026-08-24T11:00:00Z", "last_seen_at": "2026-08-24T11:00:00Z"})
    );
    assert_eq!(i(&h["items"][1]["started_at"]), 1_784_646_360);
    let page = get_json(&c, "/luxion/history?limit=1&offset=1");
    assert_eq!(page["items"][0], h["items"][1]);
    assert_eq!((page["count"].clone(), page["total"].clone()), (json!(1), json!(2)));
    // The read follows the latest run.
    let l = get_json(&c, "/luxion");
    assert_eq!((l["active"].clone(), l["starts_at"].clone()), (json!(true), json!(new_anchor)));
}

// --- OpenAPI docs ------------------------------------------------------------------

#[test]
fn every_route_is_documented_with_a_json_example() {
    let p = plugin();
    let routes = &p.manifest().routes;
    assert_eq!(routes.len(), 19);
    for r in routes {
        assert!(!r.summary.is_empty(), "{} has no summary", r.path);
        assert!(!r.description.is_empty(), "{} has no description", r.path);
        let ex = r.example.as_deref().unwrap_or_else(|| panic!("{} has no example", r.path));
        let v: Value = serde_json::from_str(ex).unwrap_or_else(|e| panic!("{} example: {e}", r.path));
        assert!(v.is_object() && v.as_object().is_some_and(|o| !o.is_empty()), "{}", r.path);
        if r.path.ends_with("/history") {
            assert_eq!(r.query_params, vec!["limit".to_owned(), "offset".to_owned()]);
        } else {
            assert!(r.query_params.is_empty(), "{}", r.path);
        }
    }
}

/// Re-runs what each documented example shows, so the docs stay real outputs.
#[test]
fn examples_are_real_outputs() {
    let p = plugin();
    let example = |method: &str, path: &str| -> Value {
        let r = p
            .manifest()
            .routes
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("no route {method} {path}"));
        serde_json::from_str(r.example.as_deref().unwrap()).unwrap()
    };
    let c = master(EXAMPLE_NOW);
    for path in [
        "/server-time",
        "/daily-buffs",
        "/weekly-buffs",
        "/corruxion",
        "/fluxion",
        "/gardening",
        "/biomes",
        "/wild-mana",
        "/stampy",
    ] {
        assert_eq!(example("GET", path), get_json(&c, path), "{path}");
    }
    let mut cal = get_json(&c, "/calendar");
    cal["events"] = Value::Array(cal["events"].as_array().unwrap()[..3].to_vec());
    assert_eq!(example("GET", "/calendar"), cal);

    let ins = post(&c, "/chaos-chest/insert", json!({"name": "Shadow Dragon Egg"})).json();
    assert_eq!(example("POST", "/chaos-chest/insert"), ins);
    assert_eq!(example("GET", "/chaos-chest"), get_json(&c, "/chaos-chest"));
    assert_eq!(example("GET", "/chaos-chest/history"), get_json(&c, "/chaos-chest/history"));
    let ins = post(&c, "/challenge/insert", json!({"name": "Cursed Vale"})).json();
    assert_eq!(example("POST", "/challenge/insert"), ins);
    assert_eq!(example("GET", "/challenge/current"), get_json(&c, "/challenge/current"));
    assert_eq!(example("GET", "/challenge/history"), get_json(&c, "/challenge/history"));

    let c = master(1_784_646_360);
    let ins = c.post("/luxion/insert").send().json();
    assert_eq!(example("POST", "/luxion/insert"), ins);
    assert_eq!(example("GET", "/luxion"), get_json(&c, "/luxion"));
    assert_eq!(example("GET", "/luxion/history"), get_json(&c, "/luxion/history"));
}
