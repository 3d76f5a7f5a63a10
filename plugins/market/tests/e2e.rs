//! End-to-end tests of the market plugin through `TestClient` (in-memory SQLite, pinned
//! clock): every reference vector of `tests/reference/vectors/market/`, the error paths,
//! ingest atomicity, and the histogram-backed totals against plain `COUNT(*)`.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use kiwi_plugin_market::{parse_dump, plugin, synthetic_dump_at};
use kiwi_sdk::host::{Host, SqlValue};
use kiwi_sdk::testing::{TestClient, TestResponse};
use serde_json::{Value, json};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/reference/vectors/market/");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{VECTORS}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

#[track_caller]
fn assert_json_eq(label: &str, got: &Value, want: &Value) {
    if got != want {
        panic!("{label}: mismatch\n--- got ---\n{}\n--- want ---\n{}", pretty(got), pretty(want));
    }
}

/// Drops `request_id` from an error envelope.
fn without_request_id(mut v: Value) -> Value {
    if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("request_id");
    }
    v
}

fn multipart(boundary: &str, file: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"GrainusMod.cfg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

fn ingest_multipart(client: &TestClient, query: &str, file: &[u8]) -> TestResponse {
    let boundary = "----kiwiFormBoundary7MA4YWxkTrZu0gW";
    client
        .post(&format!("/insert{query}"))
        .header("content-type", &format!("multipart/form-data; boundary={boundary}"))
        .body(multipart(boundary, file))
        .send()
}

fn ingest_raw(client: &TestClient, query: &str, file: &[u8]) -> TestResponse {
    client.post(&format!("/insert{query}")).header("content-type", "text/plain").body(file.to_vec()).send()
}

fn table(client: &TestClient) -> Vec<Value> {
    let rows = client
        .host()
        .sql_query(
            "SELECT id, name, type, stack, price, price_each, created_at, last_seen \
             FROM market_listing ORDER BY id",
            &[],
        )
        .unwrap();
    rows.rows
        .iter()
        .map(|r| {
            let v = |x: &SqlValue| match x {
                SqlValue::Null => Value::Null,
                SqlValue::Integer(i) => json!(i),
                SqlValue::Real(f) => json!(f),
                SqlValue::Text(s) => json!(s),
                SqlValue::Blob(_) => panic!("blob"),
            };
            json!({
                "id": v(&r[0]), "name": v(&r[1]), "type": v(&r[2]), "stack": v(&r[3]),
                "price": v(&r[4]), "price_each": v(&r[5]), "created_at": v(&r[6]),
                "last_seen": v(&r[7]),
            })
        })
        .collect()
}

fn count_rows(client: &TestClient, table: &str) -> i64 {
    let rows = client.host().sql_query(&format!("SELECT COUNT(*) FROM {table}"), &[]).unwrap();
    rows.rows[0][0].as_i64().unwrap()
}

#[test]
fn parsed_rows_match_vector() {
    let text = String::from_utf8_lossy(&read("GrainusMod.cfg")).into_owned();
    let want = read_json("GrainusMod.parsed.json")["rows"].clone();
    let got = serde_json::to_value(parse_dump(&text)).unwrap();
    let (g, w) = (got.as_array().unwrap(), want.as_array().unwrap());
    for (i, (a, b)) in g.iter().zip(w.iter()).enumerate() {
        assert_json_eq(&format!("GrainusMod.cfg row {i}"), a, b);
    }
    assert_eq!(g.len(), w.len(), "row count");

    let e2e = read_json("market_e2e.json");
    let text = String::from_utf8_lossy(&read("GrainusMod_scrape_A.cfg")).into_owned();
    assert_json_eq(
        "scrape A rows",
        &serde_json::to_value(parse_dump(&text)).unwrap(),
        &e2e["ingests"][0]["parsed_rows"],
    );
}

#[test]
fn created_at_matches_python_on_random_uuids() {
    let cases: Value = serde_json::from_str(include_str!("data/created_at_python.json")).unwrap();
    let mut bad = Vec::new();
    for c in cases.as_array().unwrap() {
        let uuid = c["uuid"].as_str().unwrap();
        let rows = parse_dump(&format!("{uuid};X;;1;1,"));
        if rows[0].created_at != c["created_at"].as_i64().unwrap() {
            bad.push((uuid.to_owned(), rows[0].created_at, c["created_at"].clone()));
        }
    }
    assert!(bad.is_empty(), "{} mismatches, e.g. {:?}", bad.len(), &bad[..bad.len().min(5)]);
}

/// Compares a listings page, treating each tie group as a set of positions. A row at
/// the first or last position may also differ when it ties (on `sort_field`) with the
/// expected row: such ties cross the page boundary, which the vectors' in-page
/// `tie_groups_by_index` cannot express (ORDER BY has no secondary key).
fn assert_page(label: &str, got: &Value, want: &Value, ties: &Value, sort_field: &str, offset: u64) {
    assert_eq!(got["count"], want["count"], "{label}: count");
    assert_eq!(got["total"], want["total"], "{label}: total");
    let g = got["items"].as_array().unwrap();
    let w = want["items"].as_array().unwrap();
    assert_eq!(g.len(), w.len(), "{label}: items length");
    let mut grouped = vec![false; w.len()];
    // Rows of the same sort value may sit outside the page only if the page does not
    // start at the first matching row or does not end at the last one.
    let more_before = offset > 0;
    let more_after = want["total"].as_u64().unwrap() > offset + w.len() as u64;
    let edge = |i: usize| (i == 0 && more_before) || (i + 1 == w.len() && more_after);
    for group in ties.as_array().unwrap() {
        let idx: Vec<usize> = group.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as usize).collect();
        // A group at the page edge may continue outside the page: only its sort
        // values are determined.
        let at_edge = idx.iter().any(|&i| edge(i));
        let key = |v: &Value| {
            if at_edge { v[sort_field].to_string() } else { v.to_string() }
        };
        let mut a: Vec<String> = idx.iter().map(|&i| key(&g[i])).collect();
        let mut b: Vec<String> = idx.iter().map(|&i| key(&w[i])).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{label}: tie group {idx:?}");
        for i in idx {
            grouped[i] = true;
        }
    }
    for i in 0..w.len() {
        if grouped[i] {
            continue;
        }
        if edge(i) && g[i] != w[i] && g[i][sort_field] == w[i][sort_field] {
            eprintln!("{label}: item {i} ties with the expected row across the page boundary");
            continue;
        }
        assert_json_eq(&format!("{label}: item {i}"), &g[i], &w[i]);
    }
}

/// Loads the e2e allow-list and runs the four ingests, checking each response.
fn run_e2e_ingests(client: &TestClient, e2e: &Value) {
    let allow = &e2e["interest_allow_list"];
    let res = client.put("/interest-items").json(&json!({"items": allow})).send();
    assert_eq!(res.status, 200, "{}", res.text());
    assert_json_eq(
        "PUT interest-items",
        &res.json(),
        &json!({"items": allow, "count": allow.as_array().unwrap().len()}),
    );
    let now = e2e["clock_now"].as_i64().unwrap();
    let table_after = e2e["table_after_ingests_order_by_id"].as_array().unwrap();
    for (i, ing) in e2e["ingests"].as_array().unwrap().iter().enumerate() {
        let http = ing["http"].as_str().unwrap();
        let query = &http[http.find('?').unwrap()..];
        let file: Vec<u8> = match ing["file"].as_str().unwrap() {
            "(inline) 'done = true\\n'" => b"done = true\n".to_vec(),
            "(inline) one re-scraped listing" => {
                // The listing re-seen at `now` in the final table.
                let r = table_after.iter().find(|r| r["last_seen"].as_i64() == Some(now)).unwrap();
                format!(
                    "{};{};{};{};{},\n",
                    r["id"].as_str().unwrap(),
                    r["name"].as_str().unwrap(),
                    r["type"].as_str().unwrap_or(""),
                    r["stack"],
                    r["price"]
                )
                .into_bytes()
            }
            name => read(name),
        };
        // Alternate the two accepted upload forms.
        let res = if i % 2 == 0 { ingest_multipart(client, query, &file) } else { ingest_raw(client, query, &file) };
        assert_eq!(res.status, 200, "ingest {i}: {}", res.text());
        assert_json_eq(&format!("ingest {i} ({http})"), &res.json(), &ing["response"]);
    }
}

#[test]
fn e2e_vectors() {
    let e2e = read_json("market_e2e.json");
    let now = e2e["clock_now"].as_i64().unwrap();
    let client = TestClient::new(plugin()).now(now).as_master();
    run_e2e_ingests(&client, &e2e);

    // The stored table.
    let got = Value::Array(table(&client));
    assert_json_eq("table after ingests", &got, &e2e["table_after_ingests_order_by_id"]);

    // Listings, each both from the literal request line and from service_args.
    let queries = e2e["listings_queries"].as_array().unwrap();
    for q in queries {
        let label = q["label"].as_str().unwrap();
        let offset = q["service_args"]["offset"].as_u64().unwrap_or(0);
        let sort_field = q["effective_order_by"].as_str().unwrap().split(' ').next().unwrap();
        let http = q["http"].as_str().unwrap().trim_start_matches("GET /v1/market");
        let literal = http.replace(' ', "%20");
        let res = client.get(&literal).send();
        assert_eq!(res.status, 200, "{label}: {}", res.text());
        assert_page(label, &res.json(), &q["response"], &q["tie_groups_by_index"], sort_field, offset);

        let args = q["service_args"].as_object().unwrap();
        let qs: Vec<String> = args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{}={}", enc(k), enc(&v))
            })
            .collect();
        let res = client.get(&format!("/listings?{}", qs.join("&"))).send();
        assert_eq!(res.status, 200, "{label} (args): {}", res.text());
        assert_page(label, &res.json(), &q["response"], &q["tie_groups_by_index"], sort_field, offset);
    }

    // Items.
    let want = &e2e["GET /v1/market/items"];
    let got = client.get("/items").send().json();
    assert_json_eq("items", &got, &json!({"items": want["items"], "count": want["count"]}));

    // Summaries, 404s included.
    for (name, case) in e2e["GET /v1/market/items/{name}/summary"].as_object().unwrap() {
        let res = client.get(&format!("/items/{}/summary", enc(name))).send();
        assert_eq!(res.status as i64, case["status"].as_i64().unwrap(), "{name}");
        assert_json_eq(
            &format!("summary {name}"),
            &without_request_id(res.json()),
            &without_request_id(case["body"].clone()),
        );
    }

    // Public allow-list read.
    let res = client.get("/interest-items").send().json();
    assert_eq!(res["items"], e2e["interest_allow_list"]);
}

#[test]
fn empty_allow_list_accepts_everything() {
    let client = TestClient::new(plugin()).now(1_749_988_800).as_master();
    assert_json_eq("empty allow-list", &client.get("/interest-items").send().json(), &json!({"items": [], "count": 0}));
    let res = ingest_raw(&client, "?timestamp=1749985200", &read("GrainusMod.cfg"));
    assert_json_eq(
        "accept all",
        &res.json(),
        &json!({"parsed": 22, "imported": 22, "ignored_not_in_list": 0, "last_seen": 1749985200}),
    );
    // Setting a list, then clearing it again.
    let res = client.put("/interest-items").json(&json!({"items": ["  Chaos Core ", "Chaos Core", "Amber"]})).send();
    assert_json_eq("normalised", &res.json(), &json!({"items": ["Amber", "Chaos Core"], "count": 2}));
    let res = client.put("/interest-items").json(&json!([])).send();
    assert_json_eq("cleared", &res.json(), &json!({"items": [], "count": 0}));
}

#[test]
fn interest_items_bad_bodies() {
    let client = TestClient::new(plugin()).as_master();
    for (body, status) in [
        (&b""[..], 422),
        (b"{not json", 400),
        (b"{\"items\": [1]}", 422),
        (b"{\"items\": [\"  \"]}", 422),
        (b"{\"items\": \"x\"}", 422),
        (b"{\"names\": []}", 422),
        (b"42", 422),
    ] {
        let res = client.put("/interest-items").body(body.to_vec()).send();
        assert_eq!(res.status, status, "{}: {}", String::from_utf8_lossy(body), res.text());
    }
    let res = client.put("/interest-items").json(&json!({"items": ["ok", 5]})).send();
    assert_eq!(res.json()["error"]["details"][0]["loc"], json!(["body", "items", 1]));
    assert_eq!(count_rows(&client, "market_interest_item"), 0);
}

#[test]
fn rescrape_moves_last_seen_only_and_backfill_moves_it_back() {
    let client = TestClient::new(plugin()).now(1_749_988_800).as_master();
    let a = read("GrainusMod_scrape_A.cfg");
    ingest_raw(&client, "?timestamp=1749985200", &a);
    let first = table(&client);
    ingest_raw(&client, "?timestamp=1749974400", &a);
    let second = table(&client);
    assert_eq!(first.len(), 3);
    assert_eq!(second.len(), 3);
    for (x, y) in first.iter().zip(&second) {
        assert_eq!(y["last_seen"], 1_749_974_400);
        let (mut x, mut y) = (x.clone(), y.clone());
        x["last_seen"] = Value::Null;
        y["last_seen"] = Value::Null;
        assert_eq!(x, y);
    }
    // No timestamp, or a negative one, means now.
    let res = ingest_raw(&client, "", &a).json();
    assert_eq!(res["last_seen"], 1_749_988_800);
    let res = ingest_raw(&client, "?timestamp=-5", &a).json();
    assert_eq!(res["last_seen"], 1_749_988_800);
}

fn error_of(res: &TestResponse) -> Value {
    res.json()["error"].clone()
}

#[test]
fn bad_uploads_are_refused_and_store_nothing() {
    let client = TestClient::new(plugin()).now(1_749_988_800).as_master();
    ingest_raw(&client, "?timestamp=1749985200", &read("GrainusMod_scrape_A.cfg"));
    let before = table(&client);
    let valid_line = b"ee99f687-484d-11f0-aa51-5e1f00000a77;Chaos Core;Material;1;1,\n".to_vec();

    // Empty file (multipart and raw): the original's message.
    for res in [ingest_multipart(&client, "", b""), ingest_raw(&client, "", b"")] {
        assert_eq!(res.status, 400);
        assert_eq!(error_of(&res)["message"], "Empty upload - POST the raw cfg text as a multipart 'file' field.");
    }

    // Binary garbage: NUL bytes, or mostly invalid UTF-8; valid listings inside do not help.
    let mut nul = valid_line.clone();
    nul.extend_from_slice(b"\x00\x01\x02");
    let mut junk: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();
    junk.extend_from_slice(&valid_line);
    for body in [&nul, &junk] {
        let res = ingest_multipart(&client, "", body);
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(error_of(&res)["details"]["field"], "file");
        assert_eq!(error_of(&res)["details"]["reason"], "binary");
    }

    // A line over 1 MiB, after a valid listing.
    let mut long = valid_line.clone();
    long.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 1));
    let res = ingest_raw(&client, "", &long);
    assert_eq!(res.status, 400);
    assert_eq!(error_of(&res)["details"]["reason"], "line_too_long");
    assert!(error_of(&res)["message"].as_str().unwrap().starts_with("file:"));

    // Missing `file` part.
    let boundary = "XYZ";
    let body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"\r\n\r\nabc\r\n--{boundary}--\r\n");
    let res = client
        .post("/insert")
        .header("content-type", &format!("multipart/form-data; boundary={boundary}"))
        .body(body.into_bytes())
        .send();
    assert_eq!(res.status, 422);
    assert_eq!(error_of(&res)["details"][0]["loc"], json!(["body", "file"]));

    // Malformed multipart, unsupported content type.
    let res = client
        .post("/insert")
        .header("content-type", "multipart/form-data; boundary=nope")
        .body(valid_line.clone())
        .send();
    assert_eq!(res.status, 400);
    let res = client.post("/insert").header("content-type", "application/json").body(valid_line.clone()).send();
    assert_eq!(res.status, 415);

    // Invalid timestamp.
    for q in ["?timestamp=abc", "?timestamp=", "?timestamp=1.5"] {
        let res = ingest_raw(&client, q, &valid_line);
        assert_eq!(res.status, 422, "{q}");
        assert_eq!(error_of(&res)["details"][0]["loc"], json!(["query", "timestamp"]));
        assert_eq!(error_of(&res)["details"][0]["type"], "int_parsing");
    }

    assert_eq!(table(&client), before, "nothing stored by refused uploads");
}

#[test]
fn failed_batch_rolls_back_everything() {
    let client = TestClient::new(plugin()).now(1_749_988_800).as_master();
    ingest_raw(&client, "?timestamp=1749974400", &read("GrainusMod_scrape_A.cfg"));
    let before = table(&client);
    let hist_before = count_rows(&client, "market_hist");
    // Sabotage the last statement of the ingest batch (the names insert).
    client.host().sql_execute("DROP TABLE market_item", &[]).unwrap();
    let res = ingest_raw(&client, "?timestamp=1749985200", &read("GrainusMod.cfg"));
    assert_eq!(res.status, 500, "{}", res.text());
    assert_eq!(table(&client), before, "listings untouched");
    assert_eq!(count_rows(&client, "market_hist"), hist_before);
}

#[test]
fn invalid_listing_queries() {
    let client = TestClient::new(plugin()).now(1_749_988_800);
    let cases: &[(&str, u16, &[&str])] = &[
        ("limit=0", 422, &["limit"]),
        ("limit=1001", 422, &["limit"]),
        ("limit=ten", 422, &["limit"]),
        ("offset=-1", 422, &["offset"]),
        ("price_min=-0.5", 422, &["price_min"]),
        ("price_max=cheap", 422, &["price_max"]),
        ("last_seen_after=yesterday", 422, &["last_seen_after"]),
        ("hide_expired=perhaps", 422, &["hide_expired"]),
        ("limit=0&offset=x&price_min=y", 422, &["price_min", "limit", "offset"]),
        ("price_min=10&price_max=5", 400, &[]),
    ];
    for (q, status, fields) in cases {
        let res = client.get(&format!("/listings?{q}")).send();
        assert_eq!(res.status, *status, "{q}: {}", res.text());
        let err = error_of(&res);
        if *status == 422 {
            assert_eq!(err["code"], "validation_error");
            let locs: Vec<Value> = err["details"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
            let want: Vec<Value> = fields.iter().map(|f| json!(["query", f])).collect();
            assert_eq!(locs, want, "{q}");
        } else {
            assert_eq!(err["code"], "bad_request");
            assert_eq!(err["message"], "price_min cannot be greater than price_max");
        }
    }
    let res = client.get("/listings?limit=0").send();
    assert_json_eq(
        "limit=0 detail",
        &error_of(&res)["details"][0],
        &json!({"type": "greater_than_equal", "loc": ["query", "limit"],
                "msg": "Input should be greater than or equal to 1", "input": "0",
                "ctx": {"ge": 1}}),
    );
    // Valid edge values.
    for q in ["limit=1", "limit=1000", "offset=0", "hide_expired=0", "price_min=0&price_max=0"] {
        assert_eq!(client.get(&format!("/listings?{q}")).send().status, 200, "{q}");
    }
}

#[test]
fn summary_median_odd_even_and_404() {
    let now = 1_749_988_800;
    let client = TestClient::new(plugin()).now(now).as_master();
    let line = |n: u32, price: u32| format!("aaaaaaaa-49d0-11f0-aa51-5e1f0000{n:04x};Thing;;1;{price},\n");
    let dump: String = [10, 40, 20, 30].iter().enumerate().map(|(i, p)| line(i as u32, *p)).collect();
    ingest_raw(&client, "", dump.as_bytes());
    let s = client.get("/items/Thing/summary").send().json();
    assert_eq!(s["count"], 4);
    assert_eq!(s["median_each"], 25.0);
    assert_eq!(s["avg_each"], 25.0);
    assert_eq!(s["total_price"], 100);
    ingest_raw(&client, "", line(9, 1000).as_bytes());
    let s = client.get("/items/Thing/summary").send().json();
    assert_eq!(s["median_each"], 30.0);
    // Stale after 3 h + 1 s: 404.
    client.set_now_millis((now + 10_801) * 1000);
    let res = client.get("/items/Thing/summary").send();
    assert_eq!(res.status, 404);
    assert_eq!(error_of(&res)["message"], "No active market listings for 'Thing'");
}

/// The histogram-backed `total` must equal `COUNT(*)` with the same filters, across
/// re-sightings, back-fills and creation-hour boundaries.
#[test]
fn histogram_totals_match_count() {
    let base = 1_749_988_800i64;
    let client = TestClient::new(plugin()).now(base).as_master();
    // Overlapping dumps (same seed prefix → same UUIDs) at various timestamps.
    let dumps = [
        (synthetic_dump_at(600, 1, base), base - 20_000),
        (synthetic_dump_at(900, 1, base), base - 9_000),
        (synthetic_dump_at(300, 2, base - 5 * 86_400), base - 3_000),
        (synthetic_dump_at(400, 1, base), base - 15_000), // back-fill moves rows back
        (synthetic_dump_at(200, 3, base + 86_400), base),
    ];
    for (dump, ts) in &dumps {
        let res = ingest_raw(&client, &format!("?timestamp={ts}"), dump.as_bytes());
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let hist_sum = client.host().sql_query("SELECT SUM(n), MIN(n) FROM market_hist", &[]).unwrap();
    assert_eq!(hist_sum.rows[0][0].as_i64().unwrap(), count_rows(&client, "market_listing"));
    assert!(hist_sum.rows[0][1].as_i64().unwrap() > 0, "no zero/negative cells");
    let direct = |now: i64, lsa: Option<i64>, hide: bool| -> i64 {
        let (ls, ca) = if hide {
            let stale = now - 10_800;
            (Some(lsa.map_or(stale, |a| a.max(stale))), Some(now - 604_800))
        } else {
            (lsa, None)
        };
        let rows = client
            .host()
            .sql_query(
                "SELECT COUNT(*) FROM market_listing WHERE last_seen >= $1 AND created_at >= $2",
                &[SqlValue::Integer(ls.unwrap_or(i64::MIN)), SqlValue::Integer(ca.unwrap_or(i64::MIN))],
            )
            .unwrap();
        rows.rows[0][0].as_i64().unwrap()
    };
    let mut checked = 0;
    for now_off in [-20_000i64, -4_000, 0, 1_800, 7_777, 86_400 * 2 + 123, 86_400 * 6 + 3_599] {
        let now = base + now_off;
        client.set_now_millis(now * 1000);
        for lsa in [None, Some(0), Some(base - 9_000), Some(base - 8_999), Some(base + 1)] {
            for hide in [true, false] {
                let mut q = format!("/listings?limit=1&hide_expired={hide}");
                if let Some(a) = lsa {
                    q.push_str(&format!("&last_seen_after={a}"));
                }
                let res = client.get(&q).send();
                assert_eq!(res.status, 200, "{}", res.text());
                assert_eq!(
                    res.json()["total"].as_i64().unwrap(),
                    direct(now, lsa, hide),
                    "now={now} lsa={lsa:?} hide={hide}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 70);
}

#[test]
fn manifest_routes() {
    let p = plugin();
    let m = p.manifest();
    assert_eq!(m.name, "market");
    let versions: Vec<u32> = m.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 2]);
    assert!(m.migrations[1].postgres.contains("SET UNLOGGED"), "the staging table skips the WAL on PostgreSQL");
    let routes: Vec<(String, String)> = m.routes.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    for (method, path) in [
        ("POST", "/insert"),
        ("GET", "/interest-items"),
        ("PUT", "/interest-items"),
        ("GET", "/listings"),
        ("GET", "/items"),
        ("GET", "/items/{name}/summary"),
    ] {
        assert!(routes.contains(&(method.into(), path.into())), "{method} {path}");
    }
    let insert = m.routes.iter().find(|r| r.path == "/insert").unwrap();
    assert!(insert.ingest_cooldown);
    assert_eq!(insert.body_limit, Some(20 * 1024 * 1024));
    let listings = m.routes.iter().find(|r| r.path == "/listings").unwrap();
    assert!(listings.secondary.is_some());
    for r in &m.routes {
        assert!(!r.summary.is_empty() && !r.description.is_empty() && r.example.is_some(), "{}", r.path);
        if let Some(ex) = &r.example {
            serde_json::from_str::<Value>(ex).unwrap();
        }
    }
}
