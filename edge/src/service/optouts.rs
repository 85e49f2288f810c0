//! A tenant's opt-out list: numbers that replied STOP (or that the tenant or an operator added).
//! Direct messages to them are refused with `recipient_opted_out`; codes still go unless the
//! tenant's `optout_blocks_otp` is on (a code the person asked for is a transactional message
//! carriers let through after an opt-out). The number is kept sealed, found by its keyed tag.

use otp_shared::phone::Phone;
use serde_json::{json, Value};

use super::app::{App, Ctx};
use super::model::Tenant;
use super::repo::inbound::{self as repo_in, OptoutRecord};
use super::sealing;
use super::webhooks::{Event, EventType};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::store::Write;

impl<P: Platform> App<P> {
    pub(crate) fn seal_optout(&self, mut o: OptoutRecord, phone: &str) -> OptoutRecord {
        let mut nonce = [0u8; 12];
        self.platform.fill_random(&mut nonce);
        o.phone_sealed = sealing::seal(&self.secrets.seal, &o.id, nonce, phone);
        o
    }

    pub fn optout_json(&self, o: &OptoutRecord) -> Value {
        json!({
            "id": o.id,
            "tenant_id": o.tenant_id,
            "phone": sealing::open(&self.secrets.seal, &o.id, &o.phone_sealed).unwrap_or_else(|| o.phone_masked.clone()),
            "phone_masked": o.phone_masked,
            "source": o.source,
            "created_at": iso8601(o.created_at),
        })
    }

    /// Refuses a send to a number on the tenant's list (direct messages; codes only when the
    /// tenant asked for it).
    pub async fn check_optout(&self, tenant: &Tenant, phone: &Phone) -> Result<(), Error> {
        let id = repo_in::optout_id(&tenant.id, &self.secrets.phone_tag(phone.as_str()));
        if self.repo().get_optout(&id).await?.is_some() {
            return Err(Error::new(ErrorCode::RecipientOptedOut));
        }
        Ok(())
    }

    /// Adds a number (`source`: api or admin); an existing entry stays as it is.
    pub async fn add_optout(
        &self,
        ctx: &Ctx,
        tenant_id: &str,
        phone: &Phone,
        source: &str,
    ) -> Result<Value, Error> {
        let tag = self.secrets.phone_tag(phone.as_str());
        let id = repo_in::optout_id(tenant_id, &tag);
        if let Some(o) = self.repo().get_optout(&id).await? {
            return Ok(self.optout_json(&o));
        }
        let o = OptoutRecord {
            id,
            tenant_id: tenant_id.to_string(),
            phone_masked: phone.masked(),
            phone_sealed: String::new(),
            phone_tag: tag,
            source: source.into(),
            created_at: ctx.now_ms,
        };
        let o = self.seal_optout(o, phone.as_str());
        let event = Event::new(
            EventType::OptoutAdded,
            tenant_id,
            &format!("opt_{}_{}", o.phone_tag, ctx.now_ms),
            ctx.now_ms,
            self.optout_json(&o),
        );
        let (hooks, ids) = self.webhook_writes_for(tenant_id, &[event]).await?;
        let mut writes = vec![repo_in::optout_write(&o)];
        writes.extend(hooks);
        writes.extend(ctx.claim_write());
        self.repo().commit(writes).await?;
        ctx.claim_committed();
        self.defer_webhooks(ctx, ids);
        Ok(self.optout_json(&o))
    }

    /// Removes an entry of `tenant_id` by its id.
    pub async fn remove_optout(&self, tenant_id: &str, id: &str) -> Result<(), Error> {
        match self.repo().get_optout(id).await? {
            Some(o) if o.tenant_id == tenant_id => {
                self.repo()
                    .commit(vec![Write::delete(repo_in::optout_path(id))])
                    .await?;
                Ok(())
            }
            _ => Err(Error::new(ErrorCode::OptoutNotFound)),
        }
    }

    pub async fn list_optouts(&self, tenant_id: &str, limit: usize) -> Result<Vec<Value>, Error> {
        let list = self.repo().optouts_of(tenant_id, limit).await?;
        Ok(list.iter().map(|o| self.optout_json(o)).collect())
    }
}
