//! The embedded game data: the three calculator stat tables and the 18 class
//! definitions, typed so responses carry exactly the response-model fields
//! (floats as floats, `absolute` dropped, file order kept).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const STAT_TABLES_JSON: &str = include_str!("../data/stat_tables.json");
const CLASSES_JSON: &str = include_str!("../data/classes.json");

/// One row of a stat table: a source and how much it contributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatSource {
    pub name: String,
    pub value: f64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub percentage: bool,
    #[serde(default)]
    pub step: Option<f64>,
    #[serde(default)]
    pub permanent: Option<bool>,
}

/// `StatTable`: one calculator table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatTable {
    pub stat: String,
    pub label: String,
    pub sources: Vec<StatSource>,
    pub count: usize,
}

/// `ClassStat`: a named value; null when the class lacks the stat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassStat {
    pub name: String,
    pub value: Option<f64>,
    #[serde(default)]
    pub percentage: bool,
}

/// An ability stage (`base` + `multiplier` per level).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbilityStage {
    pub name: String,
    pub base: f64,
    pub multiplier: f64,
}

/// A class ability.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ability {
    pub name: String,
    pub icon: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub stages: Vec<AbilityStage>,
}

/// The class's subclass: per-level stat bonuses and power milestones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subclass {
    pub name: String,
    pub description: String,
    /// Level ("1", "10" … "30") → bonuses. Sorted keys equal the file order.
    pub level: BTreeMap<String, Vec<ClassStat>>,
    /// Power milestone → effect text (not present in the transcribed data).
    #[serde(default)]
    pub power: BTreeMap<String, String>,
}

/// `TroveClass`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TroveClass {
    pub tech_name: String,
    pub name: String,
    pub shorts: Vec<String>,
    pub damage_type: String,
    pub weapons: Vec<String>,
    pub attributes: Vec<String>,
    pub stats: Vec<ClassStat>,
    pub bonuses: Vec<ClassStat>,
    pub subclass: Subclass,
    #[serde(default)]
    pub abilities: Vec<Ability>,
}

/// `ClassList`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassList {
    pub items: Vec<TroveClass>,
    pub count: usize,
}

/// Everything, parsed once.
#[derive(Debug)]
pub struct Data {
    pub power_rank: StatTable,
    pub magic_find: StatTable,
    pub light: StatTable,
    pub classes: ClassList,
}

fn parse() -> Result<Data, String> {
    let mut tables: BTreeMap<String, StatTable> =
        serde_json::from_str(STAT_TABLES_JSON).map_err(|e| format!("stat_tables.json: {e}"))?;
    let mut take = |key: &str| tables.remove(key).ok_or_else(|| format!("stat_tables.json: no {key:?} table"));
    let mut power_rank = take("power-rank")?;
    let mut magic_find = take("magic-find")?;
    let mut light = take("light")?;
    for t in [&mut power_rank, &mut magic_find, &mut light] {
        t.count = t.sources.len();
    }
    let items: Vec<TroveClass> = serde_json::from_str(CLASSES_JSON).map_err(|e| format!("classes.json: {e}"))?;
    Ok(Data { power_rank, magic_find, light, classes: ClassList { count: items.len(), items } })
}

/// The parsed data (an error message if the embedded files are broken).
pub fn data() -> Result<&'static Data, kiwi_sdk::Error> {
    static DATA: OnceLock<Result<Data, String>> = OnceLock::new();
    DATA.get_or_init(parse).as_ref().map_err(|e| kiwi_sdk::Error::internal(format!("embedded data: {e}")))
}

/// A class by its exact, case-sensitive `tech_name`.
pub fn class_by_tech_name<'a>(data: &'a Data, tech_name: &str) -> Option<&'a TroveClass> {
    data.classes.items.iter().find(|c| c.tech_name == tech_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_is_complete() {
        let d = data().unwrap();
        assert_eq!(d.power_rank.sources.len(), 12);
        assert_eq!(d.magic_find.sources.len(), 14);
        assert_eq!(d.light.sources.len(), 18);
        assert_eq!(d.classes.count, 18);
        for c in &d.classes.items {
            assert_eq!(c.stats.len(), 13, "{}", c.tech_name);
        }
        assert!(class_by_tech_name(d, "knight").is_some());
        assert!(class_by_tech_name(d, "Knight").is_none());
    }
}
