//! The plugin runtime through the real server: access and scopes, sandbox
//! limits (loop, hog, trap, oversized response), tenant isolation, capability
//! escapes (HTTP, SQL), runtime control without restarts, both tiers.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{create_token, master_session, session, simple_token};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app_with};
use crate::plugin_fixtures::{artifacts, standard_toml};

/// A server with plugins and limits raised out of the way (the limits have their own tests).
async fn spawn(opts: AppOptions) -> TestApp {
    let app = spawn_app_with(opts).await;
    for (key, v) in [
        ("api_rate_limit_max", 100_000),
        ("public_anon_rate_limit_max", 100_000),
        ("signup_rate_limit_max", 1000),
        ("login_rate_limit_max", 1000),
    ] {
        app.state.runtime_config.set(key, &json!(v), "test").await.unwrap();
    }
    app
}

async fn app_with(extra: &str) -> TestApp {
    spawn(AppOptions { plugins_toml: Some(standard_toml(extra)), ..Default::default() }).await
}

async fn app() -> TestApp {
    app_with("").await
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.req(Method::GET, path).bearer_auth(token).send().await.unwrap()
}

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

#[tokio::test]
async fn token_route_needs_a_token_with_its_scope() {
    let app = app().await;
    assert_error(app.get("/v1/hello/greet/ann").await, 401, "not_authenticated").await;
    let s = session(&app, "scopes").await;
    let narrow = create_token(&app, &s, json!({"name": "narrow", "scopes": ["probe:read"]})).await;
    let narrow = narrow["token"].as_str().unwrap();
    assert_error(get_with(&app, "/v1/hello/greet/ann", narrow).await, 403, "insufficient_scope").await;
    let (_, all) = simple_token(&app, &s).await;
    let res = get_with(&app, "/v1/hello/greet/ann", &all).await;
    assert_eq!(res.status(), 200);
    let v = body(res).await;
    assert_eq!(v["message"], "hello, ann");
    assert_eq!(v["tenant"], "default");
    // A session is not a token.
    assert_error(get_with(&app, "/v1/hello/greet/ann", &s.jwt).await, 401, "not_authenticated").await;
    // Garbage credentials fail even on public routes.
    assert_error(get_with(&app, "/v1/probe/leak", "kiwi_nope").await, 401, "invalid_token").await;
}

#[tokio::test]
async fn routing_404_405_head_and_path_params() {
    let app = app().await;
    let s = session(&app, "routing").await;
    let (_, tok) = simple_token(&app, &s).await;
    assert_error(get_with(&app, "/v1/hello/nothing", &tok).await, 404, "not_found").await;
    assert_error(get_with(&app, "/v1/nosuchplugin/x", &tok).await, 404, "not_found").await;
    let res = app.req(Method::POST, "/v1/hello/greet/ann").bearer_auth(&tok).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET");
    assert_error(res, 405, "method_not_allowed").await;
    let res = app.req(Method::HEAD, "/v1/hello/greet/ann").bearer_auth(&tok).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), 0);
    let v = body(get_with(&app, "/v1/hello/greet/J%C3%BCrgen%20K", &tok).await).await;
    assert_eq!(v["message"], "hello, Jürgen K");
    // The plugin's own 400 comes back in the envelope with this request's id.
    let res = get_with(&app, &format!("/v1/hello/greet/{}", "x".repeat(65)), &tok).await;
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v = assert_error(res, 400, "bad_request").await;
    assert_eq!(v["error"]["request_id"], rid);
}

#[tokio::test]
async fn access_modes_master_and_session() {
    let app = app().await;
    let s = session(&app, "modes").await;
    let (_, tok) = simple_token(&app, &s).await;
    assert_error(get_with(&app, "/v1/probe/master", &tok).await, 403, "forbidden").await;
    assert_error(app.get("/v1/probe/master").await, 401, "not_authenticated").await;
    let m = master_session(&app).await;
    assert_eq!(get_with(&app, "/v1/probe/master", &m.jwt).await.status(), 200);
    assert_error(get_with(&app, "/v1/probe/session", &tok).await, 403, "forbidden").await;
    let v = body(get_with(&app, "/v1/probe/session", &s.jwt).await).await;
    assert_eq!(v["principal"]["user"], s.user_id);
    // The plugin sees who calls, but never the credential.
    let v = body(get_with(&app, "/v1/probe/whoami", &tok).await).await;
    assert_eq!(v["principal"]["scopes"], json!(["*"]));
    let headers =
        body(app.req(Method::GET, "/v1/probe/headers").bearer_auth(&tok).header("cookie", "a=b").send().await.unwrap())
            .await;
    let names: Vec<&str> = headers.as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(!names.contains(&"authorization") && !names.contains(&"cookie"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_plugin_times_out_while_other_routes_keep_serving() {
    let app = app().await;
    let s = session(&app, "loop").await;
    let (_, tok) = simple_token(&app, &s).await;
    let looping = {
        let url = app.url("/v1/probe/loop");
        let client = app.client.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let res = client.get(url).send().await.unwrap();
            (res, t.elapsed())
        })
    };
    let looping2 = {
        let url = app.url("/v1/probe/loop");
        let client = app.client.clone();
        tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // While two guests spin (as many as there are worker threads), other routes keep answering:
    // the guests yield to tokio at every epoch tick instead of holding a worker for their deadline.
    let mut times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        assert_eq!(get_with(&app, "/v1/hello/greet/x", &tok).await.status(), 200);
        times.push(t.elapsed());
    }
    times.sort();
    assert!(times[4] < Duration::from_millis(300), "a looping plugin stalled other routes: {times:?}");
    let (res, elapsed) = looping.await.unwrap();
    assert_error(res, 504, "plugin_timeout").await;
    // Deadline 400 ms plus one 10 ms tick; generous margin for a loaded 2-core CI machine.
    assert!(elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(400 + 300), "{elapsed:?}");
    assert_eq!(looping2.await.unwrap(), 504);
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn hog_trap_and_oversized_response_fail_cleanly() {
    let app = app().await;
    assert_error(app.get("/v1/probe/hog").await, 500, "plugin_failed").await;
    assert_error(app.get("/v1/probe/panic").await, 500, "plugin_failed").await;
    assert_error(app.get("/v1/probe/big?mib=2").await, 500, "plugin_failed").await;
    assert_eq!(app.get("/v1/probe/big?mib=0").await.status(), 200);
    // The engine and the plugin keep serving after each failure.
    assert_eq!(app.get("/v1/probe/leak").await.status(), 200);
    let admin = master_session(&app).await;
    let list = body(get_with(&app, "/admin/plugins", &admin.jwt).await).await;
    let probe = list["items"].as_array().unwrap().iter().find(|p| p["name"] == "probe").unwrap().clone();
    assert!(probe["errors"].as_u64().unwrap() >= 3, "{probe}");
}

#[tokio::test]
async fn body_cap_and_bad_query_values() {
    let app = app().await;
    let res = app.req(Method::POST, "/v1/probe/echo").body(vec![b'a'; 2048]).send().await.unwrap();
    assert_error(res, 413, "payload_too_large").await;
    let res = app.req(Method::POST, "/v1/probe/echo").body("hi").send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "hi");
    let v = assert_error(app.get("/v1/probe/big?mib=lots").await, 422, "validation_error").await;
    assert_eq!(v["error"]["details"][0]["loc"], json!(["query", "mib"]));
}

#[tokio::test]
async fn concurrency_limit_answers_plugin_busy() {
    let app = app_with("").await;
    let mut handles = Vec::new();
    for _ in 0..6 {
        let (client, url) = (app.client.clone(), app.url("/v1/probe/slow?ms=300"));
        handles.push(tokio::spawn(async move { client.get(url).send().await.unwrap() }));
    }
    let mut codes = Vec::new();
    for h in handles {
        let res = h.await.unwrap();
        let status = res.status().as_u16();
        if status == 503 {
            assert_error(res, 503, "plugin_busy").await;
        }
        codes.push(status);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 4, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 503).count(), 2, "{codes:?}");
}

async fn make_tenant(app: &TestApp, owner: &crate::fixtures::Session, slug: &str) {
    let res =
        crate::fixtures::send(app, owner, Method::POST, "/tenants", Some(json!({"slug": slug, "name": slug}))).await;
    assert_eq!(res.status(), 201, "create tenant: {}", res.text().await.unwrap_or_default());
}

#[tokio::test]
async fn no_state_crosses_tenants() {
    let app = app().await;
    let owner = session(&app, "owner").await;
    make_tenant(&app, &owner, "acme").await;
    let as_tenant = |path: &str, t: &str| app.req(Method::GET, path).header("x-kiwi-tenant", t.to_owned());
    // Guest globals: the previous request seen by an instance must be this tenant's own.
    for i in 0..5 {
        let v = body(as_tenant(&format!("/v1/probe/leak?secret=default{i}"), "default").send().await.unwrap()).await;
        if let Some(prev) = v["previous"].as_str() {
            assert!(prev.starts_with("default:"), "{prev}");
        }
        let v = body(as_tenant(&format!("/v1/probe/leak?secret=acme{i}"), "acme").send().await.unwrap()).await;
        if let Some(prev) = v["previous"].as_str() {
            assert!(prev.starts_with("acme:"), "tenant acme saw {prev}");
        }
    }
    // kv is scoped by the host.
    let v = body(as_tenant("/v1/probe/kv?k=color&v=red", "default").send().await.unwrap()).await;
    assert_eq!(v["value"], "red");
    let v = body(as_tenant("/v1/probe/kv?k=color", "acme").send().await.unwrap()).await;
    assert_eq!(v["value"], Value::Null);
    // SQL rows carry the tenant the host gives the plugin.
    let post = |t: &str| app.req(Method::POST, "/v1/probe/notes").header("x-kiwi-tenant", t.to_owned()).body("n");
    assert_eq!(body(post("default").send().await.unwrap()).await["count"], 1);
    assert_eq!(body(post("default").send().await.unwrap()).await["count"], 2);
    assert_eq!(body(post("acme").send().await.unwrap()).await["count"], 1);
}

#[tokio::test]
async fn outbound_http_only_to_allowlisted_public_hosts() {
    let app = app().await;
    let v = body(app.get("/v1/probe/http?url=http://example.org/").await).await;
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("HostNotAllowed"), "{v}");
    // 127.0.0.1 is allowlisted, but private addresses stay refused unless allow_private_network.
    let v = body(app.get(&format!("/v1/probe/http?url=http://127.0.0.1:{}/health", app.port)).await).await;
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("private"), "{v}");
    let v = body(app.get("/v1/probe/http?url=file:///etc/passwd").await).await;
    assert_eq!(v["ok"], false);
}

#[tokio::test]
async fn outbound_http_to_an_allowed_private_host_works_when_enabled() {
    let a = artifacts();
    let toml = format!(
        "[plugins.probe]\npath = \"{}\"\nallowed_hosts = [\"127.0.0.1\"]\nallow_private_network = true\n",
        a.probe.display()
    );
    let app = spawn(AppOptions { plugins_toml: Some(toml), ..Default::default() }).await;
    let v = body(app.get(&format!("/v1/probe/http?url=http://127.0.0.1:{}/health", app.port)).await).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["status"], 200);
}

#[tokio::test]
async fn sql_stays_inside_the_plugin_namespace() {
    let app = app().await;
    let try_sql = |q: &str| {
        let url = app.url(&format!("/v1/probe/sql?q={}", urlencoding::encode(q)));
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let own = body(try_sql("SELECT COUNT(*) FROM notes").await).await;
    assert_eq!(own["ok"], true, "{own}");
    let db_path = app.data_dir.join("kiwi.db");
    let escapes = [
        format!("ATTACH DATABASE '{}' AS host", db_path.display()),
        "SELECT * FROM api_tokens".to_owned(),
        "SELECT * FROM public.api_tokens".to_owned(),
        "SELECT * FROM public.users".to_owned(),
        "SET ROLE postgres".to_owned(),
        "RESET ROLE; SELECT * FROM public.api_tokens".to_owned(),
        "PRAGMA writable_schema = 1".to_owned(),
        format!("VACUUM INTO '{}'", app.data_dir.join("stolen.db").display()),
        "SELECT pg_read_file('/etc/passwd')".to_owned(),
        "COPY (SELECT 1) TO PROGRAM 'id'".to_owned(),
    ];
    for q in escapes {
        let v = body(try_sql(&q).await).await;
        assert_eq!(v["ok"], false, "escape succeeded: {q} → {v}");
    }
    assert!(!app.data_dir.join("stolen.db").exists());
}

#[tokio::test]
async fn disable_enable_and_tenant_feature_sets_without_restart() {
    let app = app().await;
    let m = master_session(&app).await;
    let admin = |method: Method, path: &str| app.req(method, path).bearer_auth(&m.jwt);
    assert_eq!(app.get("/v1/probe/leak").await.status(), 200);
    assert_eq!(admin(Method::POST, "/admin/plugins/probe/disable").send().await.unwrap().status(), 200);
    assert_error(app.get("/v1/probe/leak").await, 404, "not_found").await;
    let doc = body(app.get("/openapi.json").await).await;
    assert!(doc["paths"].get("/v1/probe/leak").is_none());
    assert!(doc["paths"].get("/v1/hello/greet/{name}").is_some());
    assert_eq!(admin(Method::POST, "/admin/plugins/probe/enable").send().await.unwrap().status(), 200);
    assert_eq!(app.get("/v1/probe/leak").await.status(), 200);
    assert_error(admin(Method::POST, "/admin/plugins/nope/enable").send().await.unwrap(), 404, "not_found").await;
    // Only the master.
    let s = session(&app, "notmaster").await;
    assert_error(get_with(&app, "/admin/plugins", &s.jwt).await, 403, "forbidden").await;

    // A tenant admin turns probe off for their tenant only.
    make_tenant(&app, &s, "beta").await;
    let res = app
        .req(Method::PUT, "/tenants/beta/plugins/probe")
        .bearer_auth(&s.jwt)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    assert_error(
        app.req(Method::GET, "/v1/probe/leak").header("x-kiwi-tenant", "beta").send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.get("/v1/probe/leak").await.status(), 200);
    let doc = body(app.get("/openapi.json?tenant=beta").await).await;
    assert!(doc["paths"].get("/v1/probe/leak").is_none());
    let doc = body(app.get("/openapi.json?tenant=default").await).await;
    assert!(doc["paths"].get("/v1/probe/leak").is_some());
    // Someone else's tenant: refused.
    let other = session(&app, "other").await;
    let res = app
        .req(Method::PUT, "/tenants/beta/plugins/probe")
        .bearer_auth(&other.jwt)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn reload_and_install_under_load_drop_nothing() {
    let a = artifacts();
    let toml = format!("[plugins.probe]\npath = \"{}\"\n", a.probe.display());
    let app = spawn(AppOptions { plugins_toml: Some(toml), ..Default::default() }).await;
    let m = master_session(&app).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (app.client.clone(), app.url("/v1/probe/leak"), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut bad) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    _ => bad += 1,
                }
            }
            (ok, bad)
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        let res = app.req(Method::POST, "/admin/plugins/probe/reload").bearer_auth(&m.jwt).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    }
    // Install hello at runtime: its routes appear at once.
    assert_error(app.get("/v1/hello/greet/x").await, 404, "not_found").await;
    let res = app
        .req(Method::POST, "/admin/plugins")
        .bearer_auth(&m.jwt)
        .json(&json!({"name": "hello", "path": a.hello.display().to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    assert_error(app.get("/v1/hello/greet/x").await, 401, "not_authenticated").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut bad) = (0, 0);
    for h in load {
        let (o, b) = h.await.unwrap();
        ok += o;
        bad += b;
    }
    assert!(ok > 20, "the load loop barely ran: {ok}");
    assert_eq!(bad, 0, "{bad} requests failed during reload/install");
    // Installing twice conflicts; a relative path is refused.
    let res = app
        .req(Method::POST, "/admin/plugins")
        .bearer_auth(&m.jwt)
        .json(&json!({"name": "hello", "path": a.hello.display().to_string()}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "conflict").await;
    let res = app
        .req(Method::POST, "/admin/plugins")
        .bearer_auth(&m.jwt)
        .json(&json!({"name": "x", "path": "rel.wasm"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_error").await;
}

#[tokio::test]
async fn incompatible_abi_is_refused_at_load_with_a_clear_error() {
    let a = artifacts();
    let toml = format!(
        "[plugins.future]\npath = \"{}\"\n\n[plugins.hello]\npath = \"{}\"\n",
        a.bad_abi.display(),
        a.hello.display()
    );
    let app = spawn(AppOptions { plugins_toml: Some(toml), ..Default::default() }).await;
    let m = master_session(&app).await;
    let list = body(get_with(&app, "/admin/plugins", &m.jwt).await).await;
    let items = list["items"].as_array().unwrap();
    let future = items.iter().find(|p| p["name"] == "future").expect("listed");
    assert_eq!(future["state"], "failed");
    let err = future["error"].as_str().unwrap();
    assert!(err.contains("kiwi:plugin@1.0.0") && err.contains("2.0.0"), "{err}");
    // The rest of the server is fine.
    assert!(items.iter().any(|p| p["name"] == "hello" && p["state"] == "enabled"));
    let res = app
        .req(Method::POST, "/admin/plugins")
        .bearer_auth(&m.jwt)
        .json(&json!({"name": "future2", "path": a.bad_abi.display().to_string()}))
        .send()
        .await
        .unwrap();
    let v = assert_error(res, 400, "bad_request").await;
    assert!(v["error"]["message"].as_str().unwrap().contains("kiwi:plugin@1.0.0"));
    // Not a component at all.
    let junk = app.data_dir.join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let res = app
        .req(Method::POST, "/admin/plugins")
        .bearer_auth(&m.jwt)
        .json(&json!({"name": "junk", "path": junk.display().to_string()}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "bad_request").await;
}

#[tokio::test]
async fn native_example_loads_answers_and_survives_panics() {
    let app = app().await;
    let res = app.req(Method::POST, "/v1/native-echo/echo").body("ping").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v = body(res).await;
    assert_eq!(v["echo"], "ping");
    assert_eq!(v["count"], 1);
    let v = body(app.req(Method::POST, "/v1/native-echo/echo").body("again").send().await.unwrap()).await;
    assert_eq!(v["count"], 2);
    assert_error(app.get("/v1/native-echo/panic").await, 500, "plugin_failed").await;
    assert_eq!(app.get("/health").await.status(), 200);
    // The pinned host clock reaches native plugins too.
    app.clock.pin(Some(1_234_567_000));
    let v = body(app.req(Method::POST, "/v1/native-echo/echo").body("t").send().await.unwrap()).await;
    assert_eq!(v["now"], 1_234_567_000i64);
}

#[test]
fn plugins_toml_errors_name_file_line_and_key() {
    let dir = crate::helpers::temp_dir();
    let path = dir.join("plugins.toml");
    std::fs::write(&path, "[plugins.hello]\npath = \"x.wasm\"\nenabeld = true\n").unwrap();
    let err = kiwi_host::plugins::manifest_file::PluginsFile::load(&path).unwrap_err().to_string();
    assert!(err.contains("plugins.toml:3") && err.contains("enabeld"), "{err}");
}
