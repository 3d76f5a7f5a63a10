//! Property tests over random seeds and inputs: every random outcome of
//! generate / spark / flare / set-level / level-up keeps the invariants of
//! calculators.md §2.5–2.6 (counts, levels, karma, costs, pools, values inside
//! `stat-range`), and a given seed always reproduces the same answer.

mod common;

use common::client;
use kiwi_plugin_gems::gem::attempt_cost;
use kiwi_plugin_gems::tables as t;
use proptest::prelude::*;
use serde_json::{Value, json};

fn containers(gem: &Value) -> Vec<usize> {
    gem["stats"]
        .as_array()
        .expect("stats")
        .iter()
        .map(|s| s["containers"].as_array().expect("containers").len())
        .collect()
}

fn total(gem: &Value) -> usize {
    containers(gem).iter().sum()
}

fn types(gem: &Value) -> Vec<i64> {
    gem["stats"].as_array().expect("stats").iter().map(|s| s["type"].as_i64().expect("type")).collect()
}

fn generate(body: &Value) -> Value {
    let res = client().post("/generate").json(body).send();
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

/// Strips the computed keys: what a client posts back.
fn stored(gem: &Value) -> Value {
    let mut g = gem.clone();
    if let Some(o) = g.as_object_mut() {
        for k in ["ability_name", "gem_name", "is_max_level", "quality", "power_rank", "stat_values"] {
            o.remove(k);
        }
    }
    g
}

fn opt_enum(max: i64) -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), Just(json!(0)), (1..=max).prop_map(Value::from)]
}

fn gen_body() -> impl Strategy<Value = Value> {
    (
        opt_enum(4),
        opt_enum(2),
        opt_enum(4),
        prop_oneof![Just(Value::Null), (1i64..=2).prop_map(Value::from)],
        -3i64..50,
        prop_oneof![Just(Value::Null), (0.0f64..1.0).prop_map(Value::from)],
        any::<u64>(),
    )
        .prop_map(|(tier, ty, el, r, level, aug, seed)| {
            json!({"tier": tier, "type": ty, "element": el, "restriction": r,
                   "level": level, "augmentation": aug, "seed": seed})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn generate_invariants(body in gen_body()) {
        let gem = generate(&body);
        let tier = gem["tier"].as_i64().expect("tier");
        let ty = gem["type"].as_i64().expect("type");
        let el = gem["element"].as_i64().expect("element");
        let requested = body["level"].as_i64().expect("level");
        let st = types(&gem);
        prop_assert_eq!(st.len(), 3);
        let mut uniq = st.clone();
        uniq.sort_unstable();
        uniq.dedup();
        prop_assert_eq!(uniq.len(), 3);
        prop_assert!(!(st.contains(&1) && st.contains(&2)));
        prop_assert!(containers(&gem).iter().all(|c| *c >= 1));
        prop_assert_eq!(total(&gem) as i64, 3 + t::boosts_at(tier, ty, requested));
        prop_assert_eq!(gem["level"].as_i64(), Some(requested.min(t::max_level(tier, ty))));
        for (k, max) in [("tier", 4), ("type", 2), ("element", 4)] {
            if let Some(v) = body[k].as_i64().filter(|v| *v != 0) {
                prop_assert_eq!(gem[k].as_i64(), Some(v));
            }
            prop_assert!((1..=max).contains(&gem[k].as_i64().expect("enum")));
        }
        if ty == 1 {
            let r = gem["restriction"].as_i64().expect("restriction");
            prop_assert!(r == 1 || r == 2);
            if let Some(req) = body["restriction"].as_i64() {
                prop_assert_eq!(r, req);
            }
            prop_assert!(gem["ability"].is_null());
            let pool: &[i64] = if r == 1 { &t::PHYSICAL_POOL } else { &t::MAGIC_POOL };
            prop_assert!(st.iter().filter(|s| **s != 7).all(|s| pool.contains(s)));
        } else {
            prop_assert!(gem["restriction"].is_null());
            let a = gem["ability"].as_i64().expect("ability");
            prop_assert!(t::abilities_for(el).contains(&a));
        }
        let lights: Vec<&Value> = gem["stats"].as_array().expect("stats").iter().filter(|s| s["type"] == 7).collect();
        if el == 4 {
            prop_assert_eq!(lights.len(), 1);
            prop_assert_eq!(&lights[0]["locked"], &json!(true));
        } else {
            prop_assert!(lights.is_empty());
        }
        for s in gem["stats"].as_array().expect("stats") {
            for c in s["containers"].as_array().expect("containers") {
                let base = c["base"].as_f64().expect("base");
                match body["augmentation"].as_f64() {
                    Some(a) => prop_assert_eq!(base, a),
                    None => prop_assert!((0.0..1.0).contains(&base)),
                }
            }
        }
        prop_assert_eq!(gem["karma"].as_i64(), Some(0));
        prop_assert_eq!(gem["attempts"].as_i64(), Some(0));
        prop_assert_eq!(&gem["spent"], &json!({}));
        // Same seed, same gem.
        prop_assert_eq!(generate(&body), gem.clone());
        // Every stat value lies inside stat-range for its containers and level.
        let level = gem["level"].as_i64().expect("level");
        if level >= 1 && body["augmentation"].is_null() {
            let c = client();
            for (i, s) in gem["stats"].as_array().expect("stats").iter().enumerate() {
                let n = s["containers"].as_array().expect("c").len();
                let url = format!("/stat-range?tier={tier}&type={ty}&stat_type={}&level={level}&extra_containers={}&element={el}", s["type"], n - 1);
                let r = c.get(&url).send().json();
                let value = gem["stat_values"][i].as_object().expect("sv").values().next().and_then(Value::as_f64).expect("v");
                let (lo, hi) = (r["min_value"].as_f64().expect("min"), r["max_value"].as_f64().expect("max"));
                let eps = 1e-6 * hi.abs().max(1.0);
                prop_assert!(value >= lo - eps && value <= hi + eps, "{} not in [{}, {}]", value, lo, hi);
            }
        }
    }

    #[test]
    fn spark_and_flare_invariants(body in gen_body(), pos in 0i64..3, seed in any::<u64>()) {
        let gem = stored(&generate(&body));
        let c = client();
        let res = c.post("/spark").json(&json!({"gem": gem, "stat_position": pos, "seed": seed})).send();
        prop_assert_eq!(res.status, 200);
        let out = res.json();
        let before = types(&gem);
        let after = types(&out["gem"]);
        let p = pos as usize;
        if out["applied"] == json!(true) {
            prop_assert!(!before.contains(&after[p]));
            let pool: &[i64] = match gem["restriction"].as_i64() {
                Some(1) => &t::PHYSICAL_POOL,
                Some(_) => &t::MAGIC_POOL,
                None => t::spark_pool(gem["element"].as_i64().expect("el")),
            };
            prop_assert!(pool.contains(&after[p]));
            prop_assert!(!(after.contains(&1) && after.contains(&2)));
        } else {
            prop_assert_eq!(&before, &after);
        }
        prop_assert_eq!(containers(&gem), containers(&out["gem"]));

        let res = c.post("/flare").json(&json!({"gem": gem, "stat_position": pos, "seed": seed})).send();
        prop_assert_eq!(res.status, 200);
        let out = res.json();
        prop_assert_eq!(total(&gem), total(&out["gem"]));
        let (cb, ca) = (containers(&gem), containers(&out["gem"]));
        if out["applied"] == json!(true) {
            prop_assert_eq!(ca[p] + 1, cb[p]);
        } else {
            prop_assert!(cb[p] <= 1);
            prop_assert_eq!(cb, ca);
        }
    }

    #[test]
    fn set_level_invariants(body in gen_body(), level in 1i64..60, seed in any::<u64>()) {
        let gem = stored(&generate(&body));
        let res = client().post("/set-level").json(&json!({"gem": gem, "level": level, "seed": seed})).send();
        prop_assert_eq!(res.status, 200);
        let out = res.json();
        let g = &out["gem"];
        let tier = gem["tier"].as_i64().expect("tier");
        let ty = gem["type"].as_i64().expect("type");
        if gem["level"].as_i64() == Some(level) {
            prop_assert_eq!(&out["applied"], &json!(false));
            prop_assert_eq!(total(&gem), total(g));
        } else {
            let new_level = level.min(t::max_level(tier, ty));
            prop_assert_eq!(&out["applied"], &json!(true));
            prop_assert_eq!(g["level"].as_i64(), Some(new_level));
            prop_assert_eq!(g["karma"].as_i64(), Some(0));
            prop_assert_eq!(total(g) as i64, 3 + t::boosts_at(tier, ty, new_level));
            prop_assert!(containers(g).iter().all(|c| *c >= 1));
        }
    }

    #[test]
    fn level_up_invariants(body in gen_body(), karma in 0i64..130, booster in prop_oneof![Just(None), Just(Some("booster2")), Just(Some("booster4")), Just(Some("booster5"))], seed in any::<u64>()) {
        let mut gem = stored(&generate(&body));
        gem["karma"] = json!(karma);
        let res = client().post("/level-up").json(&json!({"gem": gem, "booster": booster, "seed": seed})).send();
        prop_assert_eq!(res.status, 200);
        let out = res.json();
        let g = &out["gem"];
        let tier = gem["tier"].as_i64().expect("tier");
        let ty = gem["type"].as_i64().expect("type");
        let el = gem["element"].as_i64().expect("el");
        let old = gem["level"].as_i64().expect("level");
        let new = g["level"].as_i64().expect("level");
        let outcome = out["outcome"].as_str().expect("outcome");
        let Some(attempt) = t::level_attempt(tier, ty, el, old + 1) else {
            prop_assert_eq!(outcome, "max_level");
            prop_assert_eq!(&stored(g), &gem);
            return Ok(());
        };
        prop_assert_eq!(g["attempts"].as_i64(), Some(1));
        let delta = match outcome { "success" => 1, "double" => 2, "failed" => 0, other => panic!("outcome {other}") };
        prop_assert_eq!(new - old, delta);
        prop_assert!(new <= t::max_level(tier, ty));
        prop_assert_eq!(&out["applied"], &json!(delta > 0));
        if outcome == "failed" {
            prop_assert_eq!(g["karma"].as_i64(), Some(karma + out["karma_gained"].as_i64().expect("kg")));
            prop_assert!(g["karma"].as_i64().expect("karma") < t::KARMA_MAX);
        } else {
            prop_assert_eq!(g["karma"].as_i64(), Some(0));
        }
        let boost = booster.map(|b| t::booster(b).expect("booster"));
        let cost = serde_json::to_value(attempt_cost(el, attempt, boost)).expect("cost");
        prop_assert_eq!(&out["cost"], &cost);
        for row in cost.as_array().expect("rows") {
            let name = row["name"].as_str().expect("name");
            prop_assert!(g["spent"][name].as_i64().expect("spent") >= row["count"].as_i64().expect("count"));
        }
        let chance = out["chance"].as_f64().expect("chance");
        prop_assert!((0.0..=1.0).contains(&chance));
        let boosts_crossed = t::boosts_at(tier, ty, new) - t::boosts_at(tier, ty, old);
        prop_assert_eq!(total(g) as i64, total(&gem) as i64 + boosts_crossed);
    }

    #[test]
    fn level_costs_invariants(tier in 1i64..=4, ty in 1i64..=2, el in 1i64..=4, from in 1i64..40, booster in prop_oneof![Just(""), Just("&booster=booster2"), Just("&booster=booster5_mystic")]) {
        let res = client().get(&format!("/level-costs?tier={tier}&type={ty}&element={el}&from_level={from}{booster}")).send();
        prop_assert_eq!(res.status, 200);
        let plan = res.json();
        let levels = plan["levels"].as_array().expect("levels");
        let max = t::max_level(tier, ty);
        prop_assert_eq!(levels.len() as i64, (max - from.max(1)).max(0));
        for l in levels {
            prop_assert!(l["level"].as_i64().expect("level") > from);
            let att = l["expected_attempts"].as_f64().expect("att");
            prop_assert!(att >= 1.0);
            if let Some(m) = l["max_attempts"].as_i64() {
                prop_assert!(att <= m as f64 + 0.005);
            }
        }
    }
}
