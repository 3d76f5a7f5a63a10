//! GitHub secret scanning (`POST /secret-scanning/github`): signature checks
//! against keys served by a local key server, revocation of reported tokens,
//! labels, and the key cache's refetch policy.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixtures::{send, session, simple_token, whoami};
use crate::helpers::{AppOptions, TestApp, assert_error, spawn_app_with};

const KEY_ID: &str = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";

fn signing_key() -> SigningKey {
    loop {
        if let Ok(k) = SigningKey::from_slice(&rand::random::<[u8; 32]>()) {
            return k;
        }
    }
}

/// A tiny HTTP server answering every request with the key list; counts hits.
async fn key_server(keys: Vec<(&'static str, &SigningKey)>) -> (String, Arc<AtomicUsize>) {
    let list: Vec<Value> = keys
        .iter()
        .map(|(id, k)| {
            let pem = k.verifying_key().to_public_key_pem(p256::pkcs8::LineEnding::LF).unwrap();
            json!({"key_identifier": id, "key": pem, "is_current": true})
        })
        .collect();
    let body = json!({"public_keys": list}).to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(res.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/meta/public_keys/secret_scanning"), hits)
}

async fn app_with_keys(url: &str) -> TestApp {
    spawn_app_with(AppOptions { env: vec![("KIWI_GITHUB_KEYS_URL".into(), url.into())], ..Default::default() }).await
}

fn sign(key: &SigningKey, body: &[u8]) -> String {
    let sig: Signature = key.sign(body);
    base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
}

async fn report(app: &TestApp, key_id: Option<&str>, signature: Option<&str>, body: &str) -> reqwest::Response {
    let mut r = app
        .req(Method::POST, "/secret-scanning/github")
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(k) = key_id {
        r = r.header("Github-Public-Key-Identifier", k);
    }
    if let Some(s) = signature {
        r = r.header("Github-Public-Key-Signature", s);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_signed_report_revokes_leaked_tokens() {
    let key = signing_key();
    let (url, hits) = key_server(vec![(KEY_ID, &key)]).await;
    let app = app_with_keys(&url).await;
    let s = session(&app, "leaky").await;
    let (id, token) = simple_token(&app, &s).await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
    let unknown = kiwi_host::tokens::format::generate();
    let mut typo = token.clone().into_bytes();
    typo[7] = if typo[7] == b'q' { b'r' } else { b'q' };
    let typo = String::from_utf8(typo).unwrap();
    let body = json!([
        {"token": token, "type": "kiwi_api_token", "url": "https://github.com/o/r/blob/abc/config.yml", "source": "content"},
        {"token": unknown, "type": "kiwi_api_token", "url": "https://github.com/o/r/blob/abc/x", "source": "content"},
        {"token": typo, "url": "https://github.com/o/r/blob/abc/y", "source": "content"},
        {"token": "kiwi_nope", "type": "kiwi_api_token", "url": "u", "source": "content"},
        {"no_token": true}
    ])
    .to_string();
    let res = report(&app, Some(KEY_ID), Some(&sign(&key, body.as_bytes())), &body).await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(
        out,
        json!([
            {"token_raw": token, "token_type": "kiwi_api_token", "label": "true_positive"},
            {"token_raw": unknown, "token_type": "kiwi_api_token", "label": "false_positive"},
            {"token_raw": typo, "token_type": "kiwi_api_token", "label": "false_positive"},
            {"token_raw": "kiwi_nope", "token_type": "kiwi_api_token", "label": "false_positive"}
        ])
    );
    // Revoked at once, with the URL in the reason.
    assert_error(whoami(&app, &token).await, 401, "token_revoked").await;
    let t: Value = send(&app, &s, Method::GET, &format!("/tokens/{id}"), None).await.json().await.unwrap();
    assert_eq!(t["revoke_reason"], "leaked: https://github.com/o/r/blob/abc/config.yml");
    // Reported again: still a true positive, first reason kept.
    let body =
        json!([{"token": token, "type": "kiwi_api_token", "url": "https://gist.github.com/z", "source": "gist"}])
            .to_string();
    let res = report(&app, Some(KEY_ID), Some(&sign(&key, body.as_bytes())), &body).await;
    let out: Value = res.json().await.unwrap();
    assert_eq!(out[0]["label"], "true_positive");
    let t: Value = send(&app, &s, Method::GET, &format!("/tokens/{id}"), None).await.json().await.unwrap();
    assert_eq!(t["revoke_reason"], "leaked: https://github.com/o/r/blob/abc/config.yml");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "keys fetched once and cached");
}

#[tokio::test]
async fn a_leaked_previous_secret_ends_the_grace_period_only() {
    let key = signing_key();
    let (url, _) = key_server(vec![(KEY_ID, &key)]).await;
    let app = app_with_keys(&url).await;
    let s = session(&app, "rotator").await;
    let (id, old) = simple_token(&app, &s).await;
    let res = send(&app, &s, Method::POST, &format!("/tokens/{id}/rotate"), Some(json!({"grace_seconds": 3600}))).await;
    let new = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(whoami(&app, &old).await.status(), 200);
    let body = json!([{"token": old, "type": "kiwi_api_token", "url": "https://github.com/o/r", "source": "content"}])
        .to_string();
    let res = report(&app, Some(KEY_ID), Some(&sign(&key, body.as_bytes())), &body).await;
    assert_eq!(res.json::<Value>().await.unwrap()[0]["label"], "true_positive");
    assert_error(whoami(&app, &old).await, 401, "invalid_token").await;
    assert_eq!(whoami(&app, &new).await.status(), 200, "the new secret keeps working");
}

#[tokio::test]
async fn bad_or_missing_signatures_are_refused() {
    let key = signing_key();
    let other = signing_key();
    let (url, hits) = key_server(vec![(KEY_ID, &key)]).await;
    let app = app_with_keys(&url).await;
    let s = session(&app, "safe").await;
    let (_, token) = simple_token(&app, &s).await;
    let body = json!([{"token": token, "type": "kiwi_api_token", "url": "u", "source": "content"}]).to_string();
    let good = sign(&key, body.as_bytes());

    assert_error(report(&app, None, None, &body).await, 401, "not_authenticated").await;
    assert_error(report(&app, Some(KEY_ID), None, &body).await, 401, "not_authenticated").await;
    assert_error(report(&app, None, Some(&good), &body).await, 401, "not_authenticated").await;
    // Signed by another key.
    assert_error(report(&app, Some(KEY_ID), Some(&sign(&other, body.as_bytes())), &body).await, 403, "forbidden").await;
    // Signature over a different body.
    let tampered = body.replace("\"u\"", "\"v\"");
    assert_error(report(&app, Some(KEY_ID), Some(&good), &tampered).await, 403, "forbidden").await;
    // Not base64 / not DER.
    assert_error(report(&app, Some(KEY_ID), Some("!!!not base64!!!"), &body).await, 403, "forbidden").await;
    assert_error(report(&app, Some(KEY_ID), Some("AAAA"), &body).await, 403, "forbidden").await;
    // Unknown key id: one refetch, then none within the minute.
    let before = hits.load(Ordering::SeqCst);
    assert_error(report(&app, Some("unknown-key"), Some(&good), &body).await, 403, "forbidden").await;
    assert_error(report(&app, Some("another-unknown"), Some(&good), &body).await, 403, "forbidden").await;
    assert!(hits.load(Ordering::SeqCst) <= before + 1, "at most one refetch per minute");
    // Nothing was revoked.
    assert_eq!(whoami(&app, &token).await.status(), 200);

    // Signed, but not a JSON array.
    let obj = json!({"token": token}).to_string();
    assert_error(report(&app, Some(KEY_ID), Some(&sign(&key, obj.as_bytes())), &obj).await, 400, "bad_request").await;
    let junk = "not json";
    assert_error(report(&app, Some(KEY_ID), Some(&sign(&key, junk.as_bytes())), junk).await, 400, "bad_request").await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_key_server_fails_closed() {
    // Nothing listens on this port (bound, then dropped).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/keys", l.local_addr().unwrap());
    drop(l);
    let app = app_with_keys(&url).await;
    let key = signing_key();
    let body = "[]";
    assert_error(report(&app, Some(KEY_ID), Some(&sign(&key, body.as_bytes())), body).await, 403, "forbidden").await;
}
