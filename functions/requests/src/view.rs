//! What customers and operators see. A customer sees a role's name, never an address or an agent id.

use portal_domain::booking::Booking;
use portal_domain::locale::Locale;
use portal_requests::fields::services;
use portal_requests::kind::{By, RequestStatus};
use portal_requests::roles::BrandRequests;
use portal_store::requests::{MessageItem, RequestItem};
use serde_json::{Value, json};

use crate::change::status_of;

pub struct Viewer<'a> {
    pub booking: &'a Booking,
    pub roles: &'a BrandRequests,
    pub locale: Locale,
    /// The signed-in traveller (`None`: the operator).
    pub traveller_id: Option<&'a str>,
    pub is_lead: bool,
    pub brand_name: &'a str,
}

impl Viewer<'_> {
    pub fn traveller_name(&self, id: &str) -> String {
        self.booking
            .traveller(id)
            .map(|t| format!("{} {}", t.first_name, t.last_name).trim().to_string())
            .unwrap_or_else(|| id.to_string())
    }

    pub fn role(&self, id: &str) -> Value {
        json!({"id": id, "name": self.role_name(id)})
    }

    pub fn role_name(&self, id: &str) -> String {
        match self.roles.role(id) {
            Some(r) => r.name(self.locale),
            None => id.replace('_', " "),
        }
    }

    fn operator(&self) -> bool {
        self.traveller_id.is_none()
    }

    pub fn member(&self, id: &str) -> Value {
        json!({"traveller_id": id, "name": self.traveller_name(id)})
    }

    pub fn message(&self, m: &MessageItem, general: bool) -> Value {
        let team = m.author_kind == "team";
        let name = if team { self.role_name(&m.author_id) } else { self.traveller_name(&m.author_id) };
        let role = match (team, general, &m.role) {
            (true, _, _) => Some(self.role(&m.author_id)),
            (false, true, Some(r)) => Some(self.role(r)),
            _ => None,
        };
        let mut author = json!({
            "kind": if team { "team" } else { "customer" }, "name": name,
            "is_you": !team && self.traveller_id == Some(m.author_id.as_str()),
        });
        if self.operator() {
            author["id"] = json!(m.author_id);
            author["agent"] = json!(m.agent);
        }
        json!({"message_id": m.message_id, "at": m.at, "author": author, "body": m.body, "role": role})
    }

    pub fn request(&self, r: &RequestItem, messages: &[MessageItem]) -> Value {
        let status = status_of(r);
        let mine = self.traveller_id.is_some_and(|t| t == r.submitted_by);
        let customer_may = |to| self.traveller_id.is_some() && status.may_become(to, By::Customer);
        let service = r.service_id.as_ref().and_then(|id| {
            services(self.booking)
                .into_iter()
                .find(|s| &s.service_id == id)
                .map(|s| json!({"service_id": s.service_id, "name": s.name, "date": s.date}))
        });
        let history: Vec<Value> = r
            .history
            .iter()
            .map(|h| {
                let by_name = match h.by.as_str() {
                    "customer" => self.traveller_name(&h.by_id),
                    "team" => self.role_name(&h.by_id),
                    _ => self.brand_name.to_string(),
                };
                let mut v = json!({"status": h.status, "at": h.at, "by": h.by, "by_name": by_name});
                if self.operator() {
                    v["by_id"] = json!(h.by_id);
                    v["agent"] = json!(h.agent);
                }
                v
            })
            .collect();
        let context = crate::customer::context_view(&r.context, self.locale);
        let mut v = json!({
            "request_id": r.request_id, "type": r.kind, "status": r.status,
            "fields": serde_json::from_str::<Value>(&r.fields).unwrap_or(json!({})),
            "about": r.about.iter().map(|a| self.member(a)).collect::<Vec<_>>(),
            "service": service,
            "submitted_by": self.member(&r.submitted_by),
            "role": self.role(&r.role),
            "created_at": r.created_at, "updated_at": r.updated_at,
            "status_history": history,
            "can_withdraw": customer_may(RequestStatus::Withdrawn) && (mine || self.is_lead),
            "can_reply": self.traveller_id.is_some() && !status.is_closed(),
            "completed_by_version": r.completed_by_version,
            "context": context,
            "message_count": r.message_count,
            "messages": messages.iter().map(|m| self.message(m, false)).collect::<Vec<_>>(),
        });
        if self.operator() {
            v["notify_email_masked"] = json!(portal_mail::mask_email(&r.notify_email));
            v["revision"] = json!(r.revision);
        }
        v
    }
}
