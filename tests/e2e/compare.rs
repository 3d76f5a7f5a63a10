//! JSON comparison by value, reporting every differing path.

use serde_json::Value;

/// How numbers compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// `serde_json` equality: `1` and `1.0` differ (rotations, market, mods).
    Exact,
    /// By value as `f64`, integer or float alike (stats, misc).
    Value,
    /// By value, and an integer must stay an integer and a float a float (gems).
    ValueAndKind,
}

/// The paths where `actual` differs from `expected` (at most `max`), as
/// `$.a.b[2]: got …, expected …` lines.
pub fn diff(expected: &Value, actual: &Value, numbers: Numbers, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    walk("$", expected, actual, numbers, max, &mut out);
    out
}

fn short(v: &Value) -> String {
    let t = v.to_string();
    if t.len() > 300 {
        let cut = (0..=300).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
        format!("{}… ({} chars)", &t[..cut], t.len())
    } else {
        t
    }
}

fn walk(path: &str, e: &Value, a: &Value, numbers: Numbers, max: usize, out: &mut Vec<String>) {
    if out.len() >= max {
        return;
    }
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => {
            for (k, ev) in eo {
                match ao.get(k) {
                    Some(av) => walk(&format!("{path}.{k}"), ev, av, numbers, max, out),
                    None => out.push(format!("{path}.{k}: missing, expected {}", short(ev))),
                }
            }
            for (k, av) in ao.iter().filter(|(k, _)| !eo.contains_key(*k)) {
                if out.len() < max {
                    out.push(format!("{path}.{k}: unexpected key, got {}", short(av)));
                }
            }
        }
        (Value::Array(ea), Value::Array(aa)) => {
            if ea.len() != aa.len() {
                out.push(format!("{path}: {} items, expected {}", aa.len(), ea.len()));
            }
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                walk(&format!("{path}[{i}]"), ev, av, numbers, max, out);
            }
        }
        (Value::Number(en), Value::Number(an)) if numbers != Numbers::Exact => {
            if en.as_f64() != an.as_f64() {
                out.push(format!("{path}: got {an}, expected {en}"));
            } else if numbers == Numbers::ValueAndKind && en.is_f64() != an.is_f64() {
                out.push(format!("{path}: got {an}, expected {en} (integer/float kind differs)"));
            }
        }
        _ if e != a => out.push(format!("{path}: got {}, expected {}", short(a), short(e))),
        _ => {}
    }
}

/// Removes a dotted path from `v`; a segment `key[*]` descends into every item of the list `key`.
pub fn remove_path(v: &mut Value, path: &str) {
    let segments: Vec<&str> = path.split('.').collect();
    remove(v, &segments);
}

fn remove(v: &mut Value, path: &[&str]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    if let Some(key) = head.strip_suffix("[*]") {
        if let Some(Value::Array(items)) = v.get_mut(key) {
            for item in items {
                remove(item, rest);
            }
        }
    } else if rest.is_empty() {
        if let Some(map) = v.as_object_mut() {
            map.remove(*head);
        }
    } else if let Some(child) = v.get_mut(*head) {
        remove(child, rest);
    }
}

/// Drops `error.request_id` (random per request; null in the vectors).
pub fn without_request_id(mut v: Value) -> Value {
    if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("request_id");
    }
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_every_kind_of_difference() {
        let e = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}, "f": 1.0});
        let a = json!({"a": 2, "b": [1], "c": {"d": "x", "z": 0}, "f": 1});
        let d = diff(&e, &a, Numbers::ValueAndKind, 10);
        assert_eq!(d.len(), 4, "{d:#?}");
        assert!(diff(&e, &a, Numbers::Value, 10).iter().all(|l| !l.contains("kind")));
        assert_eq!(diff(&json!({"f": 1.0}), &json!({"f": 1}), Numbers::Exact, 10).len(), 1);
        assert!(diff(&e, &e, Numbers::Exact, 10).is_empty());
    }

    #[test]
    fn removes_nested_and_listed_paths() {
        let mut v = json!({"items": [{"x": 1, "s": {"p": 1, "q": 2}}, {"x": 2, "s": {"p": 3}}], "k": 1});
        remove_path(&mut v, "items[*].s.p");
        remove_path(&mut v, "k");
        assert_eq!(v, json!({"items": [{"x": 1, "s": {"q": 2}}, {"x": 2, "s": {}}]}));
    }
}
