//! `market/market_e2e.json` over HTTP, as `plugins/market/tests/e2e.rs` runs it
//! in-process: the allow-list and the four ingests as the platform superuser (a
//! session: master-only routes, no ingest cooldown), alternating the multipart and
//! raw upload forms; the stored table (read from the plugin's own SQL namespace);
//! every listings query both as the literal request line and from its service
//! arguments (with an API token: the read routes are token routes), tie groups
//! compared as sets; items; summaries (404s included); the public allow-list read.

use serde_json::{Value, json};

use crate::compare::{Numbers, diff, without_request_id};
use crate::harness::{self, App, Reply, enc};

fn read(name: &str) -> Vec<u8> {
    let path = harness::vectors().join("market").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Records a mismatch with both sides and the differing paths.
fn check_json(failures: &mut Vec<String>, label: &str, got: &Value, want: &Value) {
    let d = diff(want, got, Numbers::Exact, 10);
    if !d.is_empty() {
        failures.push(format!(
            "{label}:\n  {}\n--- got ---\n{}\n--- want ---\n{}",
            d.join("\n  "),
            pretty(got),
            pretty(want)
        ));
    }
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

async fn ingest(app: &App, jwt: &str, query: &str, file: &[u8], as_multipart: bool) -> Reply {
    let req = app.request("POST", &format!("/v1/market/insert{query}")).bearer_auth(jwt);
    let req = if as_multipart {
        let boundary = "----kiwiFormBoundary7MA4YWxkTrZu0gW";
        req.header("content-type", format!("multipart/form-data; boundary={boundary}")).body(multipart(boundary, file))
    } else {
        req.header("content-type", "text/plain").body(file.to_vec())
    };
    harness::send(req).await
}

/// An API token of the superuser with every scope.
async fn token(app: &App, jwt: &str) -> String {
    let res =
        harness::send(app.request("POST", "/tokens").bearer_auth(jwt).json(&json!({"name": "e2e", "scopes": ["*"]})))
            .await;
    assert_eq!(res.status, 201, "create token: {}", res.text());
    res.json()["token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_e2e_vector() {
    let e2e: Value = serde_json::from_slice(&read("market_e2e.json")).expect("market_e2e.json");
    let now = e2e["clock_now"].as_i64().expect("clock_now");
    let app = harness::spawn().await;
    app.clock.pin(Some(now * 1000));
    let jwt = app.master_jwt().await;
    let token = token(&app, &jwt).await;
    let mut failures = Vec::new();
    let mut checks = 0;

    // The allow-list, then the ingests.
    let allow = &e2e["interest_allow_list"];
    let res =
        harness::send(app.request("PUT", "/v1/market/interest-items").bearer_auth(&jwt).json(&json!({"items": allow})))
            .await;
    assert_eq!(res.status, 200, "PUT interest-items: {}", res.text());
    check_json(
        &mut failures,
        "PUT interest-items",
        &res.json(),
        &json!({"items": allow, "count": allow.as_array().map_or(0, Vec::len)}),
    );
    checks += 1;
    let table_after = e2e["table_after_ingests_order_by_id"].as_array().expect("table");
    for (i, ing) in e2e["ingests"].as_array().expect("ingests").iter().enumerate() {
        let http = ing["http"].as_str().expect("http");
        let query = &http[http.find('?').expect("query")..];
        let file: Vec<u8> = match ing["file"].as_str().expect("file") {
            "(inline) 'done = true\\n'" => b"done = true\n".to_vec(),
            "(inline) one re-scraped listing" => {
                // The listing re-seen at `now` in the final table.
                let r = table_after.iter().find(|r| r["last_seen"].as_i64() == Some(now)).expect("re-seen row");
                format!(
                    "{};{};{};{};{},\n",
                    r["id"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default(),
                    r["type"].as_str().unwrap_or(""),
                    r["stack"],
                    r["price"]
                )
                .into_bytes()
            }
            name => read(name),
        };
        let res = ingest(&app, &jwt, query, &file, i % 2 == 0).await;
        if res.status != 200 {
            failures.push(format!("ingest {i} ({http}): status {}: {}", res.status, res.text()));
        } else {
            check_json(&mut failures, &format!("ingest {i} ({http})"), &res.json(), &ing["response"]);
        }
        checks += 1;
    }

    // The stored table, from the plugin's own namespace.
    check_json(
        &mut failures,
        "table after ingests",
        &Value::Array(stored_table(&app).await),
        &e2e["table_after_ingests_order_by_id"],
    );
    checks += 1;

    // Listings: the literal request line and the service arguments.
    for q in e2e["listings_queries"].as_array().expect("listings_queries") {
        let label = q["label"].as_str().expect("label");
        let offset = q["service_args"]["offset"].as_u64().unwrap_or(0);
        let sort_field =
            q["effective_order_by"].as_str().and_then(|s| s.split(' ').next()).expect("effective_order_by");
        let literal = q["http"].as_str().expect("http").trim_start_matches("GET ").replace(' ', "%20");
        let args: Vec<String> = q["service_args"]
            .as_object()
            .expect("service_args")
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(&v.as_str().map_or_else(|| v.to_string(), str::to_owned))))
            .collect();
        let from_args = format!("/v1/market/listings?{}", args.join("&"));
        for (how, url) in [("literal", literal), ("service args", from_args)] {
            let res = harness::send(app.request("GET", &url).bearer_auth(&token)).await;
            let label = format!("listings {label} ({how}: {url})");
            if res.status != 200 {
                failures.push(format!("{label}: status {}: {}", res.status, res.text()));
            } else {
                check_page(
                    &mut failures,
                    &label,
                    &res.json(),
                    &q["response"],
                    &q["tie_groups_by_index"],
                    sort_field,
                    offset,
                );
            }
            checks += 1;
        }
    }

    // Items.
    let want = &e2e["GET /v1/market/items"];
    let res = harness::send(app.request("GET", "/v1/market/items").bearer_auth(&token)).await;
    check_json(&mut failures, "items", &res.json(), &json!({"items": want["items"], "count": want["count"]}));
    checks += 1;

    // Summaries, 404s included.
    for (name, case) in e2e["GET /v1/market/items/{name}/summary"].as_object().expect("summaries") {
        let res =
            harness::send(app.request("GET", &format!("/v1/market/items/{}/summary", enc(name))).bearer_auth(&token))
                .await;
        let label = format!("summary {name}");
        if i64::from(res.status) != case["status"].as_i64().unwrap_or_default() {
            failures.push(format!("{label}: status {} != expected {}: {}", res.status, case["status"], res.text()));
        } else {
            check_json(
                &mut failures,
                &label,
                &without_request_id(res.json()),
                &without_request_id(case["body"].clone()),
            );
        }
        checks += 1;
    }

    // The public allow-list read, anonymous.
    let res = harness::send(app.request("GET", "/v1/market/interest-items")).await;
    check_json(&mut failures, "GET interest-items (anonymous)", &res.json()["items"], &e2e["interest_allow_list"]);
    checks += 1;

    app.clock.pin(None);
    assert!(checks >= 30, "only {checks} market checks");
    harness::report("market", checks, &failures);
}

/// `market_listing` ordered by id, read with the host's database driver from the plugin's
/// namespace: its SQLite file, or its PostgreSQL schema.
async fn stored_table(app: &App) -> Vec<Value> {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let (url, table) = if harness::use_postgres() {
        (app.state.config.database_url.clone(), "plugin_market.market_listing")
    } else {
        (format!("sqlite://{}?mode=ro", app.data_dir.join("plugins").join("market.db").display()), "market_listing")
    };
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect to the market namespace");
    let sql = format!(
        "SELECT id, name, type, CAST(stack AS BIGINT) AS stack, CAST(price AS BIGINT) AS price, \
         CAST(price_each AS DOUBLE PRECISION) AS price_each, CAST(created_at AS BIGINT) AS created_at, \
         CAST(last_seen AS BIGINT) AS last_seen FROM {table} ORDER BY id"
    );
    let rows = sqlx::query(&sql).fetch_all(&pool).await.expect("read market_listing");
    pool.close().await;
    rows.iter()
        .map(|r| {
            json!({
                "id": r.get::<String, _>("id"),
                "name": r.get::<String, _>("name"),
                "type": r.get::<Option<String>, _>("type"),
                "stack": r.get::<i64, _>("stack"),
                "price": r.get::<i64, _>("price"),
                "price_each": r.get::<f64, _>("price_each"),
                "created_at": r.get::<i64, _>("created_at"),
                "last_seen": r.get::<i64, _>("last_seen"),
            })
        })
        .collect()
}

/// Compares a listings page, treating each tie group as a set of positions. A row at the
/// first or last position may also differ when it ties (on `sort_field`) with the expected
/// row: such ties cross the page boundary, which the in-page `tie_groups_by_index` cannot
/// express (ORDER BY has no secondary key). The rules of `plugins/market/tests/e2e.rs`.
fn check_page(
    failures: &mut Vec<String>,
    label: &str,
    got: &Value,
    want: &Value,
    ties: &Value,
    sort_field: &str,
    offset: u64,
) {
    let before = failures.len();
    for key in ["count", "total"] {
        if got[key] != want[key] {
            failures.push(format!("{label}: {key} {} != expected {}", got[key], want[key]));
        }
    }
    let (Some(g), Some(w)) = (got["items"].as_array(), want["items"].as_array()) else {
        failures.push(format!("{label}: no items list in {}", pretty(got)));
        return;
    };
    if g.len() != w.len() {
        failures.push(format!("{label}: {} items, expected {}", g.len(), w.len()));
        return;
    }
    let more_before = offset > 0;
    let more_after = want["total"].as_u64().unwrap_or(0) > offset + w.len() as u64;
    let edge = |i: usize| (i == 0 && more_before) || (i + 1 == w.len() && more_after);
    let mut grouped = vec![false; w.len()];
    for group in ties.as_array().into_iter().flatten() {
        let idx: Vec<usize> =
            group.as_array().into_iter().flatten().filter_map(Value::as_u64).map(|i| i as usize).collect();
        // A group at the page edge may continue outside the page: only its sort values are determined.
        let at_edge = idx.iter().any(|&i| edge(i));
        let key = |v: &Value| {
            if at_edge { v[sort_field].to_string() } else { v.to_string() }
        };
        let mut a: Vec<String> = idx.iter().map(|&i| key(&g[i])).collect();
        let mut b: Vec<String> = idx.iter().map(|&i| key(&w[i])).collect();
        a.sort();
        b.sort();
        if a != b {
            failures.push(format!("{label}: tie group {idx:?} differs as a set:\n  got  {a:?}\n  want {b:?}"));
        }
        for i in idx {
            grouped[i] = true;
        }
    }
    for i in (0..w.len()).filter(|&i| !grouped[i]) {
        if edge(i) && g[i] != w[i] && g[i][sort_field] == w[i][sort_field] {
            continue; // ties with the expected row across the page boundary
        }
        let d = diff(&w[i], &g[i], Numbers::Exact, 10);
        if !d.is_empty() {
            failures.push(format!("{label}: item {i}:\n  {}", d.join("\n  ")));
        }
    }
    if failures.len() > before {
        failures.push(format!("{label}: whole page\n--- got ---\n{}\n--- want ---\n{}", pretty(got), pretty(want)));
    }
}
