//! What operations do after an answer.

use crate::service::model::Tenant;
use crate::service::ops::incidents::AlertKind;
use crate::service::ops::notices::Notice;
use otp_shared::ids::TenantId;

#[derive(Debug, Clone)]
pub enum Later {
    /// Tell a tenant's contact phone (at most once per period; see `notify`).
    Notice { tenant: Box<Tenant>, notice: Notice },
    /// Hand the isolate's analytics counts to their durable holder (`Platform::tally`, `usage`).
    FlushCounters,
    /// A tenant's end user verified: its first/last-seen marker and the end-user counts
    /// (`end_users`). `slot` is the keyed hash naming the number, never the number.
    EndUserSeen {
        tenant_id: TenantId,
        slot: String,
        at_ms: i64,
    },
    /// First attempts of webhook deliveries a commit of the request created.
    Webhooks { ids: Vec<String> },
    /// An operator alert raised or cleared: the incident's record and its notifications.
    Alert {
        raised: bool,
        kind: AlertKind,
        subject: String,
        details: serde_json::Value,
    },
}
