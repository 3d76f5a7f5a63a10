//! Error paths and deterministic edge cases beyond the reference vectors:
//! action errors (400 / the original's 500s), evaluator messages, generate
//! parameter errors, proc-spread guessing, builds errors and sizes.

mod common;

use common::client;
use kiwi_plugin_gems::tables as t;
use serde_json::{Value, json};

fn container(base: f64) -> Value {
    json!({"base": base, "augments": [{"type": 1, "count": 0}, {"type": 2, "count": 0}, {"type": 3, "count": 0}]})
}

fn gem(stats: Value) -> Value {
    json!({"id": 7, "tier": 4, "type": 1, "element": 1, "restriction": 1, "ability": null,
           "level": 1, "stats": stats, "augmentation": null, "attempts": 0, "karma": 0, "spent": {}})
}

fn basic_gem() -> Value {
    gem(json!([
        {"type": 1, "containers": [container(0.5)], "locked": false},
        {"type": 3, "containers": [container(0.95), container(0.2)], "locked": false},
        {"type": 4, "containers": [container(1.0)], "locked": false}
    ]))
}

fn message(res: &kiwi_sdk::testing::TestResponse) -> String {
    res.json()["error"]["message"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn augment_paths() {
    let c = client();
    let res = c.post("/augment").json(&json!({"gem": basic_gem(), "stat_position": 0, "augment_type": 4})).send();
    assert_eq!(res.status, 400);
    assert_eq!(message(&res), "4 is not a valid AugmentType");
    // The position is checked before the augment type.
    let res = c.post("/augment").json(&json!({"gem": basic_gem(), "stat_position": 7, "augment_type": 9})).send();
    assert_eq!(message(&res), "stat position 7 out of range (0..2)");
    // A maxed stat is a no-op.
    let res = c.post("/augment").json(&json!({"gem": basic_gem(), "stat_position": 2, "augment_type": 3})).send();
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["applied"], json!(false));
    // The first container below 1 takes the focus; values cap at 1.0.
    let res = c.post("/augment").json(&json!({"gem": basic_gem(), "stat_position": 1, "augment_type": 3})).send();
    let out = res.json();
    assert_eq!(out["applied"], json!(true));
    let c0 = &out["gem"]["stats"][1]["containers"][0];
    assert_eq!(c0["augments"][2]["count"], json!(1));
    assert_eq!(c0["value"], json!(1.0));
    assert_eq!(c0["real_value"], json!(1.075));
    assert_eq!(out["gem"]["stats"][1]["containers"][1]["augments"][2]["count"], json!(0));
    // Gems without stats report "(0..-1)".
    let res = c.post("/augment").json(&json!({"gem": gem(json!([])), "stat_position": 0})).send();
    assert_eq!(message(&res), "stat position 0 out of range (0..-1)");
}

#[test]
fn original_internal_errors_are_500() {
    let c = client();
    // flare with no other stat to receive the container: the original's router
    // turns the IndexError of `choice([])` into a 400.
    let g = gem(json!([{"type": 1, "containers": [container(0.1), container(0.2)]}]));
    let res = c.post("/flare").json(&json!({"gem": g, "stat_position": 0})).send();
    assert_eq!(res.status, 400);
    assert_eq!(message(&res), "Cannot choose from an empty sequence");
    // set-level that must remove containers but no stat has more than one
    let g = gem(json!([
        {"type": 1, "containers": [container(0.1)]}, {"type": 3, "containers": [container(0.1)]},
        {"type": 4, "containers": [container(0.1)]}, {"type": 5, "containers": [container(0.1)]}
    ]));
    let res = c.post("/set-level").json(&json!({"gem": g, "level": 2})).send();
    assert_eq!(res.status, 500);
    // set-level that must add containers to a gem without stats
    let res = c.post("/set-level").json(&json!({"gem": gem(json!([])), "level": 2})).send();
    assert_eq!(res.status, 500);
    // stats without game data make the serializer fail
    let g = gem(json!([{"type": 8, "containers": [container(0.1)], "locked": true}]));
    let res = c.post("/spark").json(&json!({"gem": g, "stat_position": 0, "seed": 1})).send();
    assert_eq!(res.status, 500);
    let g = gem(json!([{"type": 7, "containers": [container(0.1)], "locked": true}]));
    let res = c.post("/flare").json(&json!({"gem": g, "stat_position": 0})).send();
    assert_eq!(res.status, 500);
}

#[test]
fn level_up_deterministic_attempt() {
    let c = client();
    let mut g = basic_gem();
    g["level"] = json!(2);
    g["spent"] = json!({"Water Gem Dust": 5});
    let res = c.post("/level-up").json(&json!({"gem": g, "booster": ""})).send();
    assert_eq!(res.status, 200, "{}", res.text());
    let out = res.json();
    assert_eq!(out["outcome"], "success");
    assert_eq!(out["chance"], json!(1.0));
    let rec = t::level_attempt(4, 1, 1, 3).expect("level 3");
    assert_eq!(out["cost"].as_array().expect("cost").len(), rec.cost.len() + 1);
    assert_eq!(out["gem"]["level"], json!(3));
    assert_eq!(out["gem"]["attempts"], json!(1));
    assert_eq!(out["gem"]["spent"]["Water Gem Dust"], json!(5 + rec.dust));
    // Keys keep their first-seen order.
    let keys: Vec<&String> = out["gem"]["spent"].as_object().expect("spent").keys().collect();
    assert!(keys.contains(&&"Water Gem Dust".to_string()));
    assert!(res.headers.iter().any(|(k, _)| k == "x-gems-seed"));
    // Level 0 has no attempt entry: reported as max_level, nothing spent.
    g["level"] = json!(0);
    let out = c.post("/level-up").json(&json!({"gem": g})).send().json();
    assert_eq!(out["outcome"], "max_level");
    assert_eq!(out["gem"]["attempts"], json!(0));
}

#[test]
fn generate_errors_and_defaults() {
    let c = client();
    let res = c.post("/generate").json(&json!({"type": 1, "restriction": 3})).send();
    assert_eq!(res.status, 400);
    assert_eq!(message(&res), "Invalid gem parameters: 3 is not a valid GemRestriction");
    let res = c.post("/generate").json(&json!({"type": 1, "restriction": 0})).send();
    assert_eq!(message(&res), "Invalid gem parameters: 0 is not a valid GemRestriction");
    let res = c.post("/generate").json(&json!({"tier": 4, "type": 3})).send();
    assert_eq!(message(&res), "Invalid gem parameters: 3 is not a valid GemType");
    let res = c.post("/generate").json(&json!({"element": -1})).send();
    assert_eq!(message(&res), "Invalid gem parameters: -1 is not a valid GemElement");
    // Empowered ignores the restriction; the id defaults to now × 100.
    let res = c.post("/generate").json(&json!({"type": 2, "restriction": 9, "seed": 3})).send();
    assert_eq!(res.status, 200);
    let g = res.json();
    assert_eq!(g["restriction"], Value::Null);
    assert_eq!(g["id"], json!(170_000_000_000i64));
    assert_eq!(g["gem_name"], g["ability_name"]);
    // Unseeded requests still answer (random).
    assert_eq!(c.post("/generate").json(&json!({})).send().status, 200);
}

#[test]
fn evaluator_messages() {
    let c = client();
    let stats = |a: i64, b: i64, cc: i64| json!([{"type": a, "value": 100}, {"type": b, "value": 50}, {"type": cc, "value": 5}]);
    let res = c.post("/evaluate").json(&json!({"stats": stats(8, 3, 4)})).send();
    assert_eq!(res.status, 400);
    assert_eq!(message(&res), "Could not evaluate gem: no stat base for Movement Speed at Mystic");
    let res = c.post("/evaluate").json(&json!({"stats": stats(10, 3, 4)})).send();
    assert_eq!(message(&res), "Could not evaluate gem: 10 is not a valid GemStatType");
    let res = c.post("/evaluate").json(&json!({"type": 3, "stats": stats(1, 3, 4)})).send();
    assert_eq!(message(&res), "Could not evaluate gem: 3 is not a valid GemType");
    // Duplicates are reported before a later invalid type.
    let res = c.post("/evaluate").json(&json!({"stats": stats(1, 1, 99)})).send();
    assert_eq!(message(&res), "Gem stats must be unique.");
    let res = c.post("/evaluate-simple").json(&json!({"tier": 9})).send();
    assert_eq!(message(&res), "Could not evaluate gem: 9 is not a valid GemTier");
    let res = c.post("/evaluate-simple").json(&json!({"level": -4, "power_rank": 650})).send();
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["level"], json!(1));
}

#[test]
fn evaluate_guesses_the_proc_spread() {
    let c = client();
    // Mystic Lesser level 35 with 2 containers per stat at mid progress.
    let inc = t::pr_inc_total(4, 35) as f64;
    let mid = |stat: i64| {
        let base = t::stat_base(4, 1, 1, stat).expect("base");
        let th = t::stat_thresholds(4, 1, 1, stat).expect("th");
        base * ((th[0] + th[1]) / 2.0 * 2.0 + inc)
    };
    let body = json!({"tier": 4, "type": 1, "level": 35, "auto_guess_procs": true, "stats": [
        {"type": 1, "value": mid(1)}, {"type": 3, "value": mid(3)}, {"type": 4, "value": mid(4)}]});
    let res = c.post("/evaluate").json(&body).send();
    assert_eq!(res.status, 200, "{}", res.text());
    let out = res.json();
    assert_eq!(out["guessed_distribution"], json!([1, 1, 1]));
    assert_eq!(out["available_extra_containers"], json!(3));
    assert_eq!(out["quality"], json!(0.5));
    assert_eq!(out["has_issues"], json!(false));
    // More procs than available also triggers the guess.
    let mut body2 = body.clone();
    body2["auto_guess_procs"] = json!(false);
    body2["stats"][0]["extra_containers"] = json!(3);
    body2["stats"][1]["extra_containers"] = json!(3);
    let out = c.post("/evaluate").json(&body2).send().json();
    assert_eq!(out["guessed_distribution"], json!([1, 1, 1]));
}

#[test]
fn builds_errors_and_farm() {
    let c = client();
    let res = c.post("/builds/calculate").json(&json!({"character": "Knight", "subclass": "Nope"})).send();
    assert_eq!(res.status, 400);
    assert_eq!(message(&res), "Unknown subclass 'Nope'.");
    let res = c
        .post("/builds/calculate")
        .json(&json!({"build_type": "Farm", "character": "Knight", "subclass": "Bard"}))
        .send();
    assert_eq!(res.status, 200);
    let out = res.json();
    assert_eq!(out["count"], json!(200));
    let first = &out["results"][0];
    assert_eq!(first["layout"].as_str().expect("layout").split('/').count(), 4);
    let coefs: Vec<f64> =
        out["results"].as_array().expect("rows").iter().filter_map(|r| r["coefficient"].as_f64()).collect();
    assert!(coefs.windows(2).all(|w| w[0] >= w[1]));
    // An ally with a percentage Critical Damage turns crit_bonus into a float.
    let res = c
        .post("/builds/calculate")
        .json(&json!({"character": "Knight", "subclass": "Knight", "ally": "spidermonkey_heckbug"}))
        .send();
    let row = &res.json()["results"][0];
    assert_eq!(row["crit_bonus"], json!(45.195));
    let res = c.post("/builds/health-optimizer").json(&json!({"character": "Knight", "high_precision": true})).send();
    assert_eq!(res.status, 200);
    assert!(res.json()["count"].as_u64().expect("count") > 0);
}
