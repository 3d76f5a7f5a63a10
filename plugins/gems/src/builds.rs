//! Gem builds (calculators.md §2.10): the option lists, the proc-layout
//! optimizer ranked by damage coefficient (`builds/calculate`) and the
//! health-line optimizer (`builds/health-optimizer`).
//!
//! The layout space is a fixed product (190 layouts, 53,200 for Farm), each
//! scored in O(1); only the top 200 are fully ordered, so a request stays in the
//! low milliseconds even in wasm.

use std::cmp::Ordering;

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::Value;

use crate::py::{OrderedMap, round_to};
use crate::tables::{ClassDef, NamedStat, Tables};

/// A Python number that may be an int or a float (it matters for output types).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num {
    pub v: f64,
    pub is_int: bool,
}

impl Num {
    pub fn int(v: i64) -> Self {
        Self { v: v as f64, is_int: true }
    }
    pub fn float(v: f64) -> Self {
        Self { v, is_int: false }
    }
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Self { v: n.as_f64().unwrap_or(0.0), is_int: true },
            Value::Number(n) => Self::float(n.as_f64().unwrap_or(0.0)),
            _ => Self::int(0),
        }
    }
    fn add(self, o: Num) -> Num {
        Num { v: self.v + o.v, is_int: self.is_int && o.is_int }
    }
    fn mul(self, o: Num) -> Num {
        Num { v: self.v * o.v, is_int: self.is_int && o.is_int }
    }
    /// Python `round(x, d)`: ints stay ints.
    fn round(self, d: u32) -> Num {
        if self.is_int { self } else { Num::float(round_to(self.v, d)) }
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_int { s.serialize_i64(self.v as i64) } else { s.serialize_f64(self.v) }
    }
}

/// `sum(file.values())` in file order (Python `sum` starts from int 0).
fn sum_file(values: &OrderedMap<Value>) -> Num {
    values.0.iter().fold(Num::int(0), |acc, (_, v)| acc.add(Num::of(v)))
}

/// The class stat `name` plus its "<name> Bonus" twin (`value or 0.0` each).
fn class_stat(cls: &ClassDef, name: &str) -> Num {
    let one = |n: &str| -> Num {
        match cls.stats.iter().find(|s| s.name == n) {
            Some(s) => {
                let v = Num::of(&s.value);
                if v.v == 0.0 { Num::float(0.0) } else { v }
            }
            None => Num::float(0.0),
        }
    };
    one(name).add(one(&format!("{name} Bonus")))
}

fn find_class<'a>(tables: &'a Tables, name: &str) -> Option<&'a ClassDef> {
    tables.classes.iter().find(|c| c.name == name)
}

// ---------------------------------------------------------------- options

#[derive(Debug, Serialize)]
pub struct OptionEntry {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct CritRange {
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

#[derive(Debug, Serialize)]
pub struct BuildOptions {
    pub build_type: Vec<String>,
    pub character: Vec<String>,
    pub ally: Vec<OptionEntry>,
    pub food: Vec<OptionEntry>,
    pub critical_damage_count: CritRange,
    pub flags: Vec<&'static str>,
    pub notes: OrderedMap<&'static str>,
}

const FLAGS: [&str; 7] =
    ["berserker_battler", "no_face", "subclass_active", "litany", "ally_buff", "bounty_hunt", "high_precision"];

const NOTES: [(&str, &str); 8] = [
    ("subclass", "Same options as character."),
    ("ally", "Use 'boot_clown' for no ally. Ally stats are the level-30 values."),
    (
        "ally_buff",
        "Blessing of the Lilypad, on by default: multiplies the ally's level-30 Light by 1.155 and its Physical/Magic/Critical Damage by 1.31. Ally stats only.",
    ),
    ("food", "Use \"\" for none."),
    ("high_precision", "Round every result field to 8 decimals instead of 1-2."),
    ("light", "Farm builds only - target base light; 0 disables light targeting."),
    ("star_chart", "Optional star-chart build code (SC:/v2: compact, or base64)."),
    (
        "bounty_hunt",
        "The Sundered Uplands boss buff. Ignored unless the star chart code unlocks it: 'Bounty Hunt Boon' gives +10% Physical/Magic Damage, and 'Bounty Hunt' upgrades that same buff to +15%. Check bounty_hunt.available on /parse-star-chart before offering the toggle.",
    ),
];

/// `GET /builds/options`.
pub fn options(tables: &Tables) -> BuildOptions {
    let b = &tables.builds;
    let mut ally = vec![OptionEntry { key: "boot_clown".into(), label: "No ally".into() }];
    ally.extend(
        b.ally
            .0
            .iter()
            .filter(|(k, _)| k != "boot_clown")
            .map(|(k, a)| OptionEntry { key: k.clone(), label: a.qualified_name.clone() }),
    );
    BuildOptions {
        build_type: b.build_types.clone(),
        character: tables.classes.iter().map(|c| c.name.clone()).collect(),
        ally,
        food: b.food.0.iter().map(|(k, f)| OptionEntry { key: k.clone(), label: f.qualified_name.clone() }).collect(),
        critical_damage_count: CritRange { min: 0, max: 3, default: 3 },
        flags: FLAGS.to_vec(),
        notes: OrderedMap(NOTES.to_vec().into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    }
}

// ---------------------------------------------------------------- calculate

/// A validated `BuildConfigRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildConfig {
    pub build_type: String,
    pub character: String,
    pub subclass: String,
    pub food: String,
    pub ally: String,
    pub ally_buff: bool,
    pub berserker_battler: bool,
    pub critical_damage_count: i64,
    pub no_face: bool,
    pub light: i64,
    pub subclass_active: bool,
    pub litany: bool,
    pub bounty_hunt: bool,
    pub star_chart: Option<String>,
    pub high_precision: bool,
}

impl Default for BuildConfig {
    fn default() -> Self {
        Self {
            build_type: "Light".into(),
            character: "Bard".into(),
            subclass: "Boomeranger".into(),
            food: String::new(),
            ally: "boot_clown".into(),
            ally_buff: true,
            berserker_battler: false,
            critical_damage_count: 3,
            no_face: false,
            light: 0,
            subclass_active: false,
            litany: false,
            bounty_hunt: false,
            star_chart: None,
            high_precision: false,
        }
    }
}

/// One ranked layout (the logic's row; `light` is fractional, see the README).
#[derive(Debug, Clone, Serialize)]
pub struct BuildResult {
    pub rank: usize,
    pub layout: String,
    pub base_dmg: f64,
    pub crit_dmg: f64,
    pub light: f64,
    pub bonus_dmg: Num,
    pub crit_bonus: Num,
    pub total_dmg: f64,
    pub class_bonus: Option<Value>,
    pub coefficient: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildResponse {
    pub results: Vec<BuildResult>,
    pub count: usize,
}

fn lilypad(name: &str) -> f64 {
    match name {
        "Light" => 1.155,
        "Physical Damage" | "Magic Damage" | "Critical Damage" => 1.31,
        _ => 1.0,
    }
}

/// The four proc sets: [i, 9-i], [i, 18-i], 3 Cosmic Empowered lines, 6 Cosmic Lesser lines.
fn proc_sets(farm: bool) -> [Vec<Vec<i64>>; 4] {
    let triples = |n: i64| -> Vec<Vec<i64>> {
        let mut out = Vec::new();
        for x in 0..=n {
            for y in 0..=n {
                for z in 0..=n {
                    if x + y + z == n && (farm || z == n) {
                        out.push(vec![x, y, z]);
                    }
                }
            }
        }
        out
    };
    [(0..10).map(|i| vec![i, 9 - i]).collect(), (0..19).map(|i| vec![i, 18 - i]).collect(), triples(3), triples(6)]
}

struct GemLines {
    first_l: [f64; 2],
    first_e: [f64; 2],
    second_l: [f64; 2],
    second_e: [f64; 2],
    third_l: [f64; 2],
    third_e: [f64; 2],
}

fn gem_lines(tables: &Tables, health: bool) -> GemLines {
    let g = &tables.builds.build_gem_stats;
    let get = |m: &std::collections::HashMap<String, [f64; 2]>, k: &str| m.get(k).copied().unwrap_or([0.0, 0.0]);
    let (f, s) = if health { ("Maximum Health", "Maximum Health %") } else { ("Damage", "Critical Damage") };
    GemLines {
        first_l: get(&g.lesser, f),
        first_e: get(&g.empowered, f),
        second_l: get(&g.lesser, s),
        second_e: get(&g.empowered, s),
        third_l: get(&g.lesser, "Light"),
        third_e: get(&g.empowered, "Light"),
    }
}

/// Gem (damage, crit, light) of one layout, ×1.1 for the Primordial dragons.
fn gem_stats(l: &GemLines, b: [&[i64]; 4]) -> (f64, f64, f64) {
    let mut first = 3.0 * l.first_e[0] + 6.0 * l.first_l[0];
    let mut second = 3.0 * l.second_e[0] + 6.0 * l.second_l[0];
    let mut third = l.third_e[0] + 2.0 * l.third_l[0];
    let mut cosmic_first = l.first_e[0] + 2.0 * l.first_l[0];
    let mut cosmic_second = l.second_e[0] + 2.0 * l.second_l[0];
    first += l.first_e[1] * b[0][0] as f64;
    second += l.second_e[1] * b[0][1] as f64;
    first += l.first_l[1] * b[1][0] as f64;
    second += l.second_l[1] * b[1][1] as f64;
    cosmic_first += l.first_e[1] * b[2][0] as f64;
    cosmic_second += l.second_e[1] * b[2][1] as f64;
    third += l.third_e[1] * b[2][2] as f64;
    cosmic_first += l.first_l[1] * b[3][0] as f64;
    cosmic_second += l.second_l[1] * b[3][1] as f64;
    third += l.third_l[1] * b[3][2] as f64;
    ((first + cosmic_first) * 1.1, (second + cosmic_second) * 1.1, third * 1.1)
}

fn stat_num(s: &NamedStat) -> Num {
    Num::of(&s.value)
}

/// `POST /builds/calculate` logic: the top 200 layouts. Err = 400 message.
pub fn calculate(tables: &Tables, cfg: &BuildConfig) -> Result<BuildResponse, String> {
    let cls = find_class(tables, &cfg.character).ok_or_else(|| format!("Unknown class '{}'.", cfg.character))?;
    if find_class(tables, &cfg.subclass).is_none() {
        return Err(format!("Unknown subclass '{}'.", cfg.subclass));
    }
    let b = &tables.builds;
    let health = cfg.build_type == "Health";
    let farm = cfg.build_type == "Farm";
    let mut damage_type = if cls.damage_type == "Magic" { "Magic Damage" } else { "Physical Damage" };
    let (first, second, third, fourth, fifth, sixth);
    if health {
        first = sum_file(&b.health).add(class_stat(cls, "Maximum Health"));
        second = sum_file(&b.health_per).add(class_stat(cls, "Maximum Health %"));
        third = Num::int(0);
        fourth = Num::int(0);
        fifth = Num::int(100);
        sixth = Num::int(100);
        damage_type = "Maximum Health";
    } else {
        // face_damage and the dragons_damage files are absent from the data: 0.
        let mut f = sum_file(&b.damage).add(class_stat(cls, damage_type));
        let mut s = sum_file(&b.critical_damage)
            .add(class_stat(cls, "Critical Damage"))
            .add(sum_file(&b.dragons_critical_damage));
        let mut th = sum_file(&b.light);
        let mut fo = sum_file(&b.bonus_damage);
        let mut fi = Num::int(100);
        let mut si = Num::int(100);
        if !cfg.food.is_empty()
            && let Some(food) = b.food.get(&cfg.food)
        {
            for st in &food.stats {
                let v = stat_num(st);
                if st.name == damage_type {
                    if st.percentage {
                        fo = fo.add(v);
                    } else {
                        f = f.add(v);
                    }
                }
                if st.name == "Critical Damage" {
                    s = s.add(v);
                }
                if st.name == "Light" {
                    th = th.add(v);
                }
            }
        }
        if let Some(ally) = b.ally.get(&cfg.ally) {
            for st in &ally.stats {
                let mut v = stat_num(st);
                if cfg.ally_buff {
                    let m = lilypad(&st.name);
                    if m != 1.0 {
                        v = v.mul(Num::float(m));
                    }
                }
                if st.name == damage_type {
                    if st.percentage {
                        fo = fo.add(v);
                    } else {
                        f = f.add(v);
                    }
                }
                if st.name == "Critical Damage" {
                    if st.percentage {
                        fi = fi.add(v);
                    } else {
                        s = s.add(v);
                    }
                }
                if st.name == "Light" {
                    th = th.add(v);
                }
            }
        }
        s = s.add(Num::float(-(48.1 * (3 - cfg.critical_damage_count) as f64)));
        if cfg.character == "Solarion" || cfg.subclass == "Solarion" {
            th = th.add(Num::int(140));
        }
        if damage_type == "Physical Damage" && cfg.subclass == "Lunar Lancer" {
            f = f.add(Num::int(750));
        }
        if damage_type == "Magic Damage" && (cfg.subclass == "Ice Sage" || cfg.subclass == "Shadow Hunter") {
            f = f.add(Num::int(750));
        }
        if cfg.subclass == "Bard" || cfg.subclass == "Boomeranger" {
            s = s.add(Num::int(20));
        }
        if cfg.subclass_active {
            if cfg.subclass == "Bard" {
                fo = fo.add(Num::int(45));
                s = s.add(Num::int(45));
            }
            if cfg.subclass == "Gunslinger" {
                fo = fo.add(Num::float(5.5));
            }
            if cfg.subclass == "Lunar Lancer" || cfg.subclass == "Candy Barbarian" {
                fo = fo.add(Num::int(30));
            }
        }
        if cfg.berserker_battler {
            th = th.add(Num::int(750));
        }
        if cfg.litany {
            si = si.add(Num::int(1));
        }
        // star_chart / bounty_hunt: the star-chart data is not available to this
        // port, so a code decodes to no nodes (see README).
        first = f;
        second = s;
        third = th;
        fourth = fo;
        fifth = fi;
        sixth = si;
    }
    let class_bonus: Option<Value> = cls.bonuses.iter().find(|x| x.name == damage_type).map(|x| x.value.clone());
    let class_bonus_f = class_bonus.as_ref().map(|v| Num::of(v).v);
    let hp = cfg.high_precision;
    let r = |x: f64, d: u32| round_to(x, if hp { 8 } else { d });
    let lines = gem_lines(tables, health);
    let sets = proc_sets(farm);

    struct Row {
        b: [usize; 4],
        cfirst: f64,
        csecond: f64,
        light: f64,
        fin: f64,
        coefficient: f64,
    }
    let mut rows: Vec<Row> = Vec::with_capacity(sets.iter().map(Vec::len).product());
    for (i0, b0) in sets[0].iter().enumerate() {
        for (i1, b1) in sets[1].iter().enumerate() {
            for (i2, b2) in sets[2].iter().enumerate() {
                for (i3, b3) in sets[3].iter().enumerate() {
                    let (g1, g2, g3) = gem_stats(&lines, [b0, b1, b2, b3]);
                    let cfirst = first.v + g1;
                    let csecond = second.v + g2;
                    let cthird = third.v + g3;
                    let mut fin = cfirst * (1.0 + fourth.v / 100.0);
                    if let Some(cb) = class_bonus_f {
                        fin *= 1.0 + cb / 100.0;
                    }
                    let coefficient = r(fin * (1.0 + (csecond * (fifth.v / 100.0)) / 100.0), 2);
                    let light = r(cthird * (sixth.v / 100.0), 2);
                    rows.push(Row { b: [i0, i1, i2, i3], cfirst, csecond, light, fin, coefficient });
                }
            }
        }
    }
    let target = cfg.light;
    let cmp = |a: &(usize, &Row), b: &(usize, &Row)| -> Ordering {
        let primary = if target != 0 {
            let da = (a.1.light - target as f64).abs();
            let db = (b.1.light - target as f64).abs();
            da.partial_cmp(&db).unwrap_or(Ordering::Equal)
        } else {
            Ordering::Equal
        };
        primary
            .then_with(|| (-a.1.coefficient).partial_cmp(&-b.1.coefficient).unwrap_or(Ordering::Equal))
            .then(a.0.cmp(&b.0))
    };
    let mut order: Vec<(usize, &Row)> = rows.iter().enumerate().collect();
    let keep = order.len().min(200);
    if keep < order.len() && keep > 0 {
        order.select_nth_unstable_by(keep - 1, cmp);
        order.truncate(keep);
    }
    order.sort_by(cmp);
    order.truncate(keep);

    let results: Vec<BuildResult> = order
        .iter()
        .enumerate()
        .map(|(rank, (_, row))| {
            let mut boosts: Vec<i64> = Vec::with_capacity(10);
            for (set, i) in sets.iter().zip(row.b) {
                boosts.extend_from_slice(&set[i]);
            }
            if target == 0 || health {
                boosts.remove(9);
                boosts.remove(6);
            }
            if target == 0 && !health {
                boosts.truncate(4);
            }
            let join = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join("/");
            let mut layout = join(&boosts[..boosts.len().min(4)]);
            if boosts.len() > 4 {
                layout.push_str(" + ");
                layout.push_str(&join(&boosts[4..]));
            }
            BuildResult {
                rank: rank + 1,
                layout,
                base_dmg: r(row.cfirst, 2),
                crit_dmg: r(row.csecond, 1),
                light: row.light,
                bonus_dmg: fourth.round(8),
                crit_bonus: fifth.add(Num::int(-100)).round(8),
                total_dmg: r(row.fin, 2),
                class_bonus: class_bonus.clone(),
                coefficient: row.coefficient,
            }
        })
        .collect();
    let count = results.len();
    Ok(BuildResponse { results, count })
}

// ---------------------------------------------------------------- health optimizer

/// A validated `HealthOptimizerRequest`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthConfig {
    pub character: String,
    pub star_chart: Option<String>,
    pub weapon_ch: bool,
    pub ring_ch: bool,
    pub hat_health: bool,
    pub face_health: bool,
    pub high_precision: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthLines {
    pub critical_hit: f64,
    pub maximum_health: f64,
    pub maximum_health_per: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineCounts {
    pub critical_hit: i64,
    pub maximum_health: i64,
    pub maximum_health_per: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthResult {
    pub critical_hit: f64,
    pub maximum_health: f64,
    pub maximum_health_per: f64,
    pub rank: usize,
    pub layout: String,
    pub empowered: LineCounts,
    pub lesser: LineCounts,
    pub health: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthResponse {
    pub base: HealthLines,
    pub results: Vec<HealthResult>,
    pub count: usize,
}

const CRIT_HIT_CAP: f64 = 100.0;
const HEALTH_LINES: [&str; 3] = ["Critical Hit", "Maximum Health", "Maximum Health %"];

/// `itertools.combinations_with_replacement(range(3), k)` as per-line counts.
fn multisets(k: usize) -> Vec<Vec<usize>> {
    fn rec(start: usize, left: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if left == 0 {
            out.push(cur.clone());
            return;
        }
        for i in start..3 {
            cur.push(i);
            rec(i, left - 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    rec(0, k, &mut Vec::new(), &mut out);
    out
}

fn counts(combo: &[usize]) -> [i64; 3] {
    let mut c = [0i64; 3];
    for i in combo {
        c[*i] += 1;
    }
    c
}

/// `POST /builds/health-optimizer` logic. Err = 400 message.
pub fn health_optimizer(tables: &Tables, cfg: &HealthConfig) -> Result<HealthResponse, String> {
    let cls = find_class(tables, &cfg.character).ok_or_else(|| format!("Unknown class '{}'.", cfg.character))?;
    let ho = &tables.builds.health_optimizer;
    let files = [&ho.critical_hit, &ho.maximum_health, &ho.maximum_health_per];
    let mut base = [0.0f64; 3];
    for (i, line) in HEALTH_LINES.iter().enumerate() {
        let s: f64 = files[i].0.iter().fold(0.0, |acc, (_, v)| acc + v);
        base[i] = class_stat(cls, line).v + s;
    }
    for (flag, gear) in &ho.gear_lines.0 {
        let on = match flag.as_str() {
            "weapon_ch" => cfg.weapon_ch,
            "ring_ch" => cfg.ring_ch,
            "hat_health" => cfg.hat_health,
            "face_health" => cfg.face_health,
            _ => false,
        };
        if on && let Some(i) = HEALTH_LINES.iter().position(|l| *l == gear.stat) {
            base[i] += gear.value;
        }
    }
    let g = &tables.builds.build_gem_stats;
    let value = |m: &std::collections::HashMap<String, [f64; 2]>, line: &str| m.get(line).map_or(0.0, |v| v[0]) * 1.1;
    let emp_v: Vec<f64> = HEALTH_LINES.iter().map(|l| value(&g.empowered, l)).collect();
    let les_v: Vec<f64> = HEALTH_LINES.iter().map(|l| value(&g.lesser, l)).collect();
    let hp = cfg.high_precision;
    let r = |x: f64| round_to(x, if hp { 8 } else { 2 });

    /// (line totals, Empowered counts, Lesser counts, health).
    type Found = ([f64; 3], [i64; 3], [i64; 3], f64);
    let mut found: Vec<Found> = Vec::new();
    for emp in multisets(3) {
        for les in multisets(6) {
            let (ec, lc) = (counts(&emp), counts(&les));
            // base + n_emp × value_emp + n_les × value_les (the original's order).
            let tot: [f64; 3] = std::array::from_fn(|i| base[i] + ec[i] as f64 * emp_v[i] + lc[i] as f64 * les_v[i]);
            if tot[0] >= CRIT_HIT_CAP - 1e-9 {
                let health = tot[1] * (1.0 + tot[2] / 100.0);
                found.push((tot, ec, lc, health));
            }
        }
    }
    found.sort_by(|a, b| {
        (-a.3)
            .partial_cmp(&-b.3)
            .unwrap_or(Ordering::Equal)
            .then(a.0[0].partial_cmp(&b.0[0]).unwrap_or(Ordering::Equal))
    });
    let results: Vec<HealthResult> = found
        .iter()
        .enumerate()
        .map(|(i, (tot, e, l, health))| HealthResult {
            critical_hit: r(tot[0]),
            maximum_health: r(tot[1]),
            maximum_health_per: r(tot[2]),
            rank: i + 1,
            layout: format!("{}/{}/{} {}/{}/{}", e[0], e[1], e[2], l[0], l[1], l[2]),
            empowered: LineCounts { critical_hit: e[0], maximum_health: e[1], maximum_health_per: e[2] },
            lesser: LineCounts { critical_hit: l[0], maximum_health: l[1], maximum_health_per: l[2] },
            health: r(*health),
        })
        .collect();
    let count = results.len();
    Ok(HealthResponse {
        base: HealthLines { critical_hit: r(base[0]), maximum_health: r(base[1]), maximum_health_per: r(base[2]) },
        results,
        count,
    })
}
