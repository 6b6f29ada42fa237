//! Several pending booking updates merged into one email (the relay holds them while the operator pushes).

use crate::changes::{Change, merge};
use crate::content::Content;

/// What one digest email says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    pub changes: Vec<Change>,
    /// Document types with a new version, first appearance first, once each.
    pub documents: Vec<String>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.documents.is_empty()
    }
}

/// Merge digested contents (oldest first); other contents are ignored.
pub fn digest<'a>(contents: impl IntoIterator<Item = &'a Content>) -> Digest {
    let mut changes = Vec::new();
    let mut documents: Vec<String> = Vec::new();
    for c in contents {
        match c {
            Content::Changes { changes: cs } => changes.extend(cs.iter().cloned()),
            Content::Documents { documents: ds } => {
                for d in ds {
                    if !documents.contains(d) {
                        documents.push(d.clone());
                    }
                }
            }
            _ => {}
        }
    }
    Digest { changes: merge(changes), documents }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_once_and_changes_merged() {
        let d = chrono::NaiveDate::from_ymd_opt(2027, 5, 12).unwrap();
        let a = Content::Changes { changes: vec![Change::DayAdded { date: d, title: "Glacier".into() }] };
        let b = Content::Documents { documents: vec!["invoice".into(), "itinerary".into()] };
        let c = Content::Documents { documents: vec!["invoice".into()] };
        let x = Content::Confirmed { start: d, end: d };
        let out = digest([&a, &b, &c, &x]);
        assert_eq!(out.documents, vec!["invoice".to_string(), "itinerary".to_string()]);
        assert_eq!(out.changes.len(), 1);
        assert!(!out.is_empty());
        assert!(digest([&x]).is_empty());
    }
}
