//! Tenants (`/tenants/*`), membership roles, cross-tenant isolation and
//! `Tenants::resolve`.

#![allow(clippy::unwrap_used)]

use kiwi_host::principal::{Principal, ScopeSet, Via};
use kiwi_host::tenants::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::accounts::{PASSWORD, access, get_as, login, spawn, spawn_with, user};
use crate::helpers::{AppOptions, TestApp, assert_error};

async fn send(app: &TestApp, method: Method, path: &str, jwt: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = app.req(method, path).bearer_auth(jwt);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn create(app: &TestApp, jwt: &str, slug: &str) -> Value {
    let res =
        send(app, Method::POST, "/tenants", jwt, Some(json!({"slug": slug, "name": format!("{slug} Inc")}))).await;
    assert_eq!(res.status(), 201, "create {slug}");
    res.json().await.unwrap()
}

async fn master(app: &TestApp) -> String {
    app.state.accounts.ensure_master("master@example.com", "master password 1").await.unwrap();
    access(&login(app, "master@example.com", "master password 1").await)
}

#[tokio::test]
async fn create_list_and_get_tenants() {
    let app = spawn().await;
    let (_, a) = user(&app, "alice@example.com").await;
    let t = create(&app, &access(&a), "acme").await;
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["name"], "acme Inc");
    assert_eq!(t["role"], "owner");
    assert_eq!(t["plan"], "free");
    assert!(t["id"].as_str().unwrap().starts_with("ten_"));
    let list: Value = get_as(&app, "/tenants", &access(&a)).await.json().await.unwrap();
    let slugs: Vec<(&str, &str)> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["slug"].as_str().unwrap(), t["role"].as_str().unwrap()))
        .collect();
    assert_eq!(slugs, vec![("acme", "owner"), ("default", "member")]);
    let got: Value = get_as(&app, "/tenants/acme", &access(&a)).await.json().await.unwrap();
    assert_eq!(got["id"], t["id"]);
    assert_eq!(got["role"], "owner");
    // Errors.
    let res = send(&app, Method::POST, "/tenants", &access(&a), Some(json!({"slug": "acme"}))).await;
    assert_error(res, 409, "conflict").await;
    let res = send(&app, Method::POST, "/tenants", &access(&a), Some(json!({"slug": "default"}))).await;
    assert_error(res, 409, "conflict").await;
    for bad in ["A!", "ab", "-acme", "x".repeat(41).as_str()] {
        let res = send(&app, Method::POST, "/tenants", &access(&a), Some(json!({"slug": bad}))).await;
        assert_error(res, 422, "validation_error").await;
    }
    let res = send(&app, Method::POST, "/tenants", &access(&a), Some(json!({"slug": "okay", "name": " "}))).await;
    assert_error(res, 422, "validation_error").await;
    assert_error(app.post_json("/tenants", &json!({"slug": "anon"})).await, 401, "not_authenticated").await;
    assert_error(app.get("/tenants").await, 401, "not_authenticated").await;
    assert_error(get_as(&app, "/tenants/nope", &access(&a)).await, 404, "not_found").await;
    let (_, b) = user(&app, "bob@example.com").await;
    assert_error(get_as(&app, "/tenants/acme", &access(&b)).await, 403, "forbidden").await;
    // Master sees any tenant.
    let m = master(&app).await;
    let got: Value = get_as(&app, "/tenants/acme", &m).await.json().await.unwrap();
    assert_eq!(got["slug"], "acme");
    assert_eq!(got["role"], Value::Null);
}

#[tokio::test]
async fn patch_tenant_rules() {
    let app = spawn().await;
    let (_, a) = user(&app, "alice@example.com").await;
    create(&app, &access(&a), "acme").await;
    let res = send(&app, Method::PATCH, "/tenants/acme", &access(&a), Some(json!({"name": "Acme Corp"}))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["name"], "Acme Corp");
    // The cached record follows the change.
    assert_eq!(app.state.tenants.record_by_slug("acme").await.unwrap().unwrap().name, "Acme Corp");
    let res = send(&app, Method::PATCH, "/tenants/acme", &access(&a), Some(json!({"plan": "pro"}))).await;
    assert_error(res, 403, "forbidden").await;
    let res = send(&app, Method::PATCH, "/tenants/acme", &access(&a), Some(json!({"rate_limit_per_min": 10}))).await;
    assert_error(res, 403, "forbidden").await;
    let res = send(&app, Method::PATCH, "/tenants/acme", &access(&a), Some(json!({"name": ""}))).await;
    assert_error(res, 422, "validation_error").await;
    let m = master(&app).await;
    let res =
        send(&app, Method::PATCH, "/tenants/acme", &m, Some(json!({"plan": "pro", "rate_limit_per_min": 600}))).await;
    let v: Value = res.json().await.unwrap();
    assert_eq!((v["plan"].as_str(), v["rate_limit_per_min"].as_i64()), (Some("pro"), Some(600)));
    let res = send(&app, Method::PATCH, "/tenants/acme", &m, Some(json!({"rate_limit_per_min": null}))).await;
    assert_eq!(res.json::<Value>().await.unwrap()["rate_limit_per_min"], Value::Null);
    let res = send(&app, Method::PATCH, "/tenants/acme", &m, Some(json!({"rate_limit_per_min": 0}))).await;
    assert_error(res, 422, "validation_error").await;
    let res = send(&app, Method::PATCH, "/tenants/acme", &m, Some(json!({"plan": "bad plan!"}))).await;
    assert_error(res, 422, "validation_error").await;
    let res = send(&app, Method::PATCH, "/tenants/nope", &m, Some(json!({"name": "x"}))).await;
    assert_error(res, 404, "not_found").await;
    let (_, b) = user(&app, "bob@example.com").await;
    let res = send(&app, Method::PATCH, "/tenants/acme", &access(&b), Some(json!({"name": "Mine"}))).await;
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn member_management_and_roles() {
    let app = spawn().await;
    let (_, alice) = user(&app, "alice@example.com").await;
    let (bob_u, bob) = user(&app, "bob@example.com").await;
    let (carol_u, carol) = user(&app, "carol@example.com").await;
    let (dave_u, _) = user(&app, "dave@example.com").await;
    let alice_id = app.state.accounts.verify_access(&access(&alice)).await.unwrap().user_id;
    let bob_id = bob_u["id"].as_str().unwrap();
    let carol_id = carol_u["id"].as_str().unwrap();
    let dave_id = dave_u["id"].as_str().unwrap();
    create(&app, &access(&alice), "acme").await;
    let a = access(&alice);
    let add = |jwt: String, email: &'static str, role: &'static str| {
        let app = &app;
        async move {
            send(app, Method::POST, "/tenants/acme/members", &jwt, Some(json!({"email": email, "role": role}))).await
        }
    };
    let res = add(a.clone(), "BOB@example.com", "member").await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["user_id"], bob_id);
    assert_error(add(a.clone(), "bob@example.com", "admin").await, 409, "conflict").await;
    assert_error(add(a.clone(), "nobody@example.com", "member").await, 404, "not_found").await;
    assert_error(add(a.clone(), "carol@example.com", "boss").await, 422, "validation_error").await;
    // A member cannot list or manage.
    assert_error(get_as(&app, "/tenants/acme/members", &access(&bob)).await, 403, "forbidden").await;
    assert_error(add(access(&bob), "carol@example.com", "member").await, 403, "forbidden").await;
    let members: Value = get_as(&app, "/tenants/acme/members", &a).await.json().await.unwrap();
    let roles: Vec<(&str, &str)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, vec![("alice@example.com", "owner"), ("bob@example.com", "member")]);
    // Promote bob to admin; admins manage members and admins, never owners.
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{bob_id}"), &a, Some(json!({"role": "admin"}))).await;
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "admin");
    assert_eq!(
        app.state.tenants.role_of(bob_id, &app.state.tenants.by_slug("acme").await.unwrap().id).await.unwrap(),
        Some(Role::Admin)
    );
    let b = access(&bob);
    assert_eq!(add(b.clone(), "carol@example.com", "member").await.status(), 201);
    assert_error(add(b.clone(), "dave@example.com", "owner").await, 403, "forbidden").await;
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{carol_id}"), &b, Some(json!({"role": "owner"})))
            .await;
    assert_error(res, 403, "forbidden").await;
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{alice_id}"), &b, Some(json!({"role": "member"})))
            .await;
    assert_error(res, 403, "forbidden").await;
    let res = send(&app, Method::DELETE, &format!("/tenants/acme/members/{alice_id}"), &b, None).await;
    assert_error(res, 403, "forbidden").await;
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{carol_id}"), &b, Some(json!({"role": "admin"})))
            .await;
    assert_eq!(res.status(), 200);
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{dave_id}"), &b, Some(json!({"role": "admin"})))
            .await;
    assert_error(res, 404, "not_found").await;
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{carol_id}"), &b, Some(json!({"role": "x"}))).await;
    assert_error(res, 422, "validation_error").await;
    // The last owner stays.
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{alice_id}"), &a, Some(json!({"role": "admin"})))
            .await;
    assert_error(res, 409, "conflict").await;
    let res = send(&app, Method::DELETE, &format!("/tenants/acme/members/{alice_id}"), &a, None).await;
    assert_error(res, 409, "conflict").await;
    // An owner can hand over ownership, then step down.
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{bob_id}"), &a, Some(json!({"role": "owner"}))).await;
    assert_eq!(res.status(), 200);
    let res =
        send(&app, Method::PATCH, &format!("/tenants/acme/members/{alice_id}"), &a, Some(json!({"role": "member"})))
            .await;
    assert_eq!(res.status(), 200);
    // Remove by an admin; leave by oneself.
    let res = send(&app, Method::DELETE, &format!("/tenants/acme/members/{alice_id}"), &access(&carol), None).await;
    assert_eq!(res.status(), 204);
    let res = send(&app, Method::DELETE, &format!("/tenants/acme/members/{carol_id}"), &access(&carol), None).await;
    assert_eq!(res.status(), 204);
    let res = send(&app, Method::DELETE, &format!("/tenants/acme/members/{carol_id}"), &b, None).await;
    assert_error(res, 404, "not_found").await;
    let members: Value = get_as(&app, "/tenants/acme/members", &b).await.json().await.unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    // Alice is out: no more access.
    assert_error(get_as(&app, "/tenants/acme", &a).await, 403, "forbidden").await;
    let res = send(&app, Method::DELETE, "/tenants/nope/members/usr_x", &a, None).await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_tenant_admin_cannot_touch_another_tenant() {
    let app = spawn().await;
    let (_, alice) = user(&app, "alice@example.com").await;
    let (bob_u, bob) = user(&app, "bob@example.com").await;
    let (carol_u, _) = user(&app, "carol@example.com").await;
    create(&app, &access(&alice), "tenant-a").await;
    create(&app, &access(&bob), "tenant-b").await;
    let b = access(&bob);
    send(
        &app,
        Method::POST,
        "/tenants/tenant-b/members",
        &b,
        Some(json!({"email": "carol@example.com", "role": "member"})),
    )
    .await;
    let a = access(&alice);
    let bob_id = bob_u["id"].as_str().unwrap();
    let carol_id = carol_u["id"].as_str().unwrap();
    assert_error(get_as(&app, "/tenants/tenant-b", &a).await, 403, "forbidden").await;
    assert_error(get_as(&app, "/tenants/tenant-b/members", &a).await, 403, "forbidden").await;
    let res = send(
        &app,
        Method::POST,
        "/tenants/tenant-b/members",
        &a,
        Some(json!({"email": "alice@example.com", "role": "owner"})),
    )
    .await;
    assert_error(res, 403, "forbidden").await;
    let res =
        send(&app, Method::PATCH, &format!("/tenants/tenant-b/members/{carol_id}"), &a, Some(json!({"role": "admin"})))
            .await;
    assert_error(res, 403, "forbidden").await;
    let res = send(&app, Method::DELETE, &format!("/tenants/tenant-b/members/{bob_id}"), &a, None).await;
    assert_error(res, 403, "forbidden").await;
    let res = send(&app, Method::PATCH, "/tenants/tenant-b", &a, Some(json!({"name": "pwned"}))).await;
    assert_error(res, 403, "forbidden").await;
    // The default tenant's admin is no admin of tenant-b either.
    let m = master(&app).await;
    let alice_id = app.state.accounts.verify_access(&a).await.unwrap().user_id;
    send(&app, Method::PATCH, &format!("/tenants/default/members/{alice_id}"), &m, Some(json!({"role": "admin"})))
        .await;
    assert_error(get_as(&app, "/tenants/tenant-b/members", &a).await, 403, "forbidden").await;
    // Nothing changed in tenant-b; the master sees it.
    let members: Value = get_as(&app, "/tenants/tenant-b/members", &m).await.json().await.unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    let tid = app.state.tenants.by_slug("tenant-b").await.unwrap().id;
    let p = app.state.accounts.verify_access(&a).await.unwrap();
    assert_error_api(app.state.tenants.require_admin(&p, "tenant-b").await, "forbidden");
    assert_eq!(app.state.tenants.require_admin(&p, "tenant-a").await.unwrap().slug, "tenant-a");
    let mp = app.state.accounts.verify_access(&m).await.unwrap();
    assert_eq!(app.state.tenants.require_admin(&mp, "tenant-b").await.unwrap().id, tid);
    assert_error_api(app.state.tenants.require_admin(&mp, "missing").await, "not_found");
    // An API token of tenant-a acts only in tenant-a, whoever owns it.
    let token = Principal {
        user_id: alice_id.clone(),
        is_master: false,
        via: Via::Token { token_id: "tok_1".into(), tenant_id: "ten_other".into(), scopes: ScopeSet::All },
    };
    assert_error_api(app.state.tenants.require_admin(&token, "tenant-a").await, "forbidden");
}

fn assert_error_api<T: std::fmt::Debug>(r: Result<T, kiwi_host::error::ApiError>, code: &str) {
    match r {
        Err(e) => assert_eq!(e.code.as_str(), code, "{e}"),
        Ok(v) => panic!("expected {code}, got {v:?}"),
    }
}

fn parts(headers: &[(&str, &str)]) -> axum::http::request::Parts {
    let mut b = axum::http::Request::builder().uri("/v1/x");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[tokio::test]
async fn resolve_picks_the_request_tenant() {
    let app = spawn_with(AppOptions {
        env: vec![("KIWI_TENANT_HOSTS".into(), "api.acme.test=acme,api.ghost.test=ghost".into())],
        ..Default::default()
    })
    .await;
    let (_, alice) = user(&app, "alice@example.com").await;
    let (_, bob) = user(&app, "bob@example.com").await;
    let acme = create(&app, &access(&alice), "acme").await;
    let st = &app.state;
    let pa = st.accounts.verify_access(&access(&alice)).await.unwrap();
    let pb = st.accounts.verify_access(&access(&bob)).await.unwrap();
    let resolve = |h: Vec<(&'static str, &'static str)>, p: Option<Principal>| async move {
        st.tenants.resolve(st, &parts(&h), p.as_ref()).await
    };
    // Default.
    let t = resolve(vec![], None).await.unwrap();
    assert_eq!((t.id.as_str(), t.slug.as_str()), ("ten_default", "default"));
    assert_eq!(resolve(vec![], Some(pb.clone())).await.unwrap().slug, "default");
    // Header: members, anonymous callers and master; others 403; unknown 404.
    assert_eq!(
        resolve(vec![("x-kiwi-tenant", "acme")], Some(pa.clone())).await.unwrap().id,
        acme["id"].as_str().unwrap()
    );
    assert_eq!(resolve(vec![("x-kiwi-tenant", "acme")], None).await.unwrap().slug, "acme");
    assert_error_api(resolve(vec![("x-kiwi-tenant", "acme")], Some(pb.clone())).await, "forbidden");
    assert_error_api(resolve(vec![("x-kiwi-tenant", "nope")], None).await, "not_found");
    let m = master(&app).await;
    let pm = st.accounts.verify_access(&m).await.unwrap();
    assert_eq!(resolve(vec![("x-kiwi-tenant", "acme")], Some(pm)).await.unwrap().slug, "acme");
    // Host names (port and case ignored); a mapping to a missing tenant is 404.
    assert_eq!(resolve(vec![("host", "API.acme.test:8443")], None).await.unwrap().slug, "acme");
    assert_error_api(resolve(vec![("host", "api.acme.test")], Some(pb.clone())).await, "forbidden");
    assert_error_api(resolve(vec![("host", "api.ghost.test")], None).await, "not_found");
    assert_eq!(resolve(vec![("host", "other.test")], None).await.unwrap().slug, "default");
    // The header beats the host name.
    assert_eq!(
        resolve(vec![("host", "api.acme.test"), ("x-kiwi-tenant", "default")], None).await.unwrap().slug,
        "default"
    );
    // An API token's tenant beats everything.
    let tok = Principal {
        user_id: pb.user_id.clone(),
        is_master: false,
        via: Via::Token {
            token_id: "tok_1".into(),
            tenant_id: acme["id"].as_str().unwrap().into(),
            scopes: ScopeSet::All,
        },
    };
    assert_eq!(resolve(vec![("x-kiwi-tenant", "default")], Some(tok)).await.unwrap().slug, "acme");
    // Helpers.
    assert_eq!(st.tenants.by_slug("acme").await.unwrap().id, acme["id"].as_str().unwrap());
    assert_error_api(st.tenants.by_slug("nope").await, "not_found");
    assert_eq!(st.tenants.role_of(&pa.user_id, acme["id"].as_str().unwrap()).await.unwrap(), Some(Role::Owner));
    assert_eq!(st.tenants.role_of(&pb.user_id, acme["id"].as_str().unwrap()).await.unwrap(), None);
    assert_eq!(st.tenants.role_of(&pb.user_id, "ten_default").await.unwrap(), Some(Role::Member));
}

#[tokio::test]
async fn openapi_documents_the_tenant_routes() {
    let app = spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, method) in [
        ("/tenants", "post"),
        ("/tenants", "get"),
        ("/tenants/{slug}", "get"),
        ("/tenants/{slug}", "patch"),
        ("/tenants/{slug}/members", "get"),
        ("/tenants/{slug}/members", "post"),
        ("/tenants/{slug}/members/{user_id}", "patch"),
        ("/tenants/{slug}/members/{user_id}", "delete"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let _ = PASSWORD;
}
