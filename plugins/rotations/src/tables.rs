//! The game data tables behind the rotations, embedded from
//! `data/rotation-tables.json` (a copy of the reference tables) and parsed once
//! per plugin instance: daily/weekly buffs, the biome lists and the
//! sub-biome/parent-biome metadata.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const TABLES_JSON: &str = include_str!("../data/rotation-tables.json");

/// One daily buff (`DailyBuff`), fields in the original model's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyBuff {
    pub name: String,
    pub color: String,
    pub weekday: String,
    pub emoji: String,
    pub normal_buffs: Vec<String>,
    pub premium_buffs: Vec<String>,
    pub icon: Option<String>,
    pub banner: Option<String>,
}

/// One weekly buff (`WeeklyBuff`), fields in the original model's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyBuff {
    pub name: String,
    pub color: String,
    pub weekday: String,
    pub emoji: String,
    pub buffs: Vec<String>,
    pub banner: Option<String>,
}

/// A `biomes.json` entry (only the fields the rotations read).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubBiome {
    pub name: Option<String>,
    pub final_name: Option<String>,
    pub icon: Option<String>,
}

/// All tables.
#[derive(Debug, Deserialize)]
pub struct Tables {
    /// Keys "0" (Monday) … "6" (Sunday).
    pub daily_buffs: BTreeMap<String, DailyBuff>,
    /// Keys "0" … "3".
    pub weekly_buffs: BTreeMap<String, WeeklyBuff>,
    pub d15_biome1: Vec<String>,
    pub d15_biome2: Vec<String>,
    pub d15_biome3: Vec<String>,
    pub wild_mana_biomes: Vec<String>,
    pub stampy_biomes: Vec<String>,
    /// Sub-biome key → metadata.
    pub biomes_json: BTreeMap<String, SubBiome>,
    /// Parent biome → icon of the first `biomes.json` entry with that parent.
    pub parent_icon_map_from_biomes_json: BTreeMap<String, String>,
    /// Parent biome → icon, used when the map above has no entry.
    pub parent_icon_fallback: BTreeMap<String, String>,
}

/// A biome as the feeds serve it (`Biome`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Biome {
    pub name: String,
    pub final_name: String,
    pub icon: String,
}

static TABLES: OnceLock<Option<Tables>> = OnceLock::new();

/// The parsed tables, or `None` if the embedded file is broken (a build
/// defect that the unit tests catch; handlers turn it into a 500).
pub fn tables() -> Option<&'static Tables> {
    TABLES.get_or_init(|| serde_json::from_str(TABLES_JSON).ok()).as_ref()
}

/// The tables or a 500 error.
pub fn require() -> kiwi_sdk::Result<&'static Tables> {
    tables().ok_or_else(|| kiwi_sdk::Error::internal("rotation tables failed to load"))
}

/// Element `i mod len` of a list (non-negative modulo); `None` for an empty list.
pub fn cyclic(list: &[String], i: i64) -> Option<&str> {
    let len = i64::try_from(list.len()).ok().filter(|l| *l > 0)?;
    let idx = usize::try_from(i.rem_euclid(len)).ok()?;
    list.get(idx).map(String::as_str)
}

impl Tables {
    /// A d15 sub-biome key → `{name, final_name, icon}` from `biomes.json`;
    /// an unknown key gives `{key, key, "unknown"}`.
    pub fn sub_biome(&self, key: &str) -> Biome {
        let entry = self.biomes_json.get(key);
        let field = |f: Option<&String>, default: &str| f.cloned().unwrap_or_else(|| default.to_owned());
        match entry {
            Some(sb) => Biome {
                name: field(sb.name.as_ref(), key),
                final_name: field(sb.final_name.as_ref(), key),
                icon: field(sb.icon.as_ref(), "unknown"),
            },
            None => Biome { name: key.to_owned(), final_name: key.to_owned(), icon: "unknown".to_owned() },
        }
    }

    /// A parent biome (Wild Mana, Stampy) → `{name, final_name: name, icon}`,
    /// the icon from the `biomes.json` parent map, then the fallback table,
    /// then `"unknown"`.
    pub fn parent_biome(&self, name: &str) -> Biome {
        let icon = self
            .parent_icon_map_from_biomes_json
            .get(name)
            .filter(|i| !i.is_empty())
            .or_else(|| self.parent_icon_fallback.get(name))
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned());
        Biome { name: name.to_owned(), final_name: name.to_owned(), icon }
    }

    /// Daily buff for Trove weekday `i` (Monday = 0).
    pub fn daily(&self, i: i64) -> Option<&DailyBuff> {
        self.daily_buffs.get(&i.to_string())
    }

    /// Weekly buffs "0".."n" in order, as long as the keys are contiguous.
    pub fn weekly_rotation(&self) -> Vec<&WeeklyBuff> {
        (0..4).filter_map(|i: i64| self.weekly_buffs.get(&i.to_string())).collect()
    }

    /// Weekly buff for week index `k` (`k mod len(table)`).
    pub fn weekly(&self, k: i64) -> Option<&WeeklyBuff> {
        let len = i64::try_from(self.weekly_buffs.len()).ok().filter(|l| *l > 0)?;
        self.weekly_buffs.get(&k.rem_euclid(len).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse_and_have_the_documented_sizes() {
        let t = tables().expect("tables parse");
        assert_eq!(t.daily_buffs.len(), 7);
        assert_eq!(t.weekly_buffs.len(), 4);
        assert_eq!(t.d15_biome1.len(), 12);
        assert_eq!(t.d15_biome2.len(), 11);
        assert_eq!(t.d15_biome3.len(), 14);
        assert_eq!(t.wild_mana_biomes.len(), 11);
        assert_eq!(t.stampy_biomes.len(), 13);
        for key in t.d15_biome1.iter().chain(&t.d15_biome2).chain(&t.d15_biome3) {
            assert!(t.biomes_json.contains_key(key), "{key} missing from biomes.json");
        }
    }

    #[test]
    fn biome_lookups() {
        let t = tables().unwrap();
        let b = t.sub_biome("Restless Range");
        assert_eq!((b.final_name.as_str(), b.icon.as_str()), ("Forbidden Spires", "spires"));
        let b = t.sub_biome("Nowhere");
        assert_eq!((b.name.as_str(), b.icon.as_str()), ("Nowhere", "unknown"));
        assert_eq!(t.parent_biome("The Lost Isles").icon, "pirate");
        assert_eq!(t.parent_biome("Geode Topside").icon, "dunes");
        assert_eq!(t.parent_biome("Atlantis").icon, "unknown");
        assert_eq!(cyclic(&t.wild_mana_biomes, -1), Some("Candoria"));
        assert_eq!(cyclic(&[], 3), None);
        assert_eq!(t.weekly(-1).map(|w| w.name.as_str()), Some("Fast Invasions"));
    }
}
