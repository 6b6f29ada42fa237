//! Table definitions from `tables.json`, the single source shared with Terraform.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub const TABLES_JSON: &str = include_str!("../tables.json");

/// The one table every function uses (its deployed name comes from `TABLE_NAME`).
pub const PORTAL_TABLE: &str = "portal";
pub const INDEX_BY_EMAIL: &str = "by_email";
pub const INDEX_DUE_INSTALMENTS: &str = "due_instalments";
pub const INDEX_UNEXPORTED_EVENTS: &str = "unexported_events";
pub const INDEX_OPEN_PAYMENTS: &str = "open_payments";
/// Every index the code queries; a test checks each exists in `tables.json`.
pub const INDEXES_USED: [&str; 4] =
    [INDEX_BY_EMAIL, INDEX_DUE_INSTALMENTS, INDEX_UNEXPORTED_EVENTS, INDEX_OPEN_PAYMENTS];

#[derive(Debug, Clone, Deserialize)]
pub struct Definitions {
    pub tables: BTreeMap<String, TableDef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableDef {
    pub hash_key: String,
    pub range_key: String,
    pub attributes: BTreeMap<String, String>,
    pub ttl_attribute: String,
    pub global_secondary_indexes: BTreeMap<String, IndexDef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexDef {
    pub hash_key: String,
    pub range_key: String,
    pub projection: String,
}

pub fn definitions() -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    // The file is compiled in and checked by a unit test; failing here would be a build defect.
    DEFS.get_or_init(|| serde_json::from_str(TABLES_JSON).unwrap_or_else(|e| panic!("tables.json is invalid: {e}")))
}

pub fn portal_table() -> &'static TableDef {
    &definitions().tables[PORTAL_TABLE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_the_code_uses_is_defined() {
        let t = portal_table();
        for idx in INDEXES_USED {
            let def =
                t.global_secondary_indexes.get(idx).unwrap_or_else(|| panic!("index {idx} missing from tables.json"));
            assert!(t.attributes.contains_key(&def.hash_key));
            assert!(t.attributes.contains_key(&def.range_key));
        }
        assert!(t.attributes.contains_key(&t.hash_key));
        assert!(t.attributes.contains_key(&t.range_key));
        assert!(!t.attributes.contains_key(&t.ttl_attribute), "TTL attribute must not be a key attribute");
    }
}
