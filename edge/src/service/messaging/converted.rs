//! Counts an OTP text's conversion figures (`ops::conversion`): sent when a phone took it,
//! delivered when its report says it left, verified when its code was approved.

use otp_shared::phone::Phone;
use otp_shared::templates::TextStyle;
use otp_shared::wire::MessageKind;

use crate::platform::Platform;
use crate::service::abuse::fraud::rules::prefix_of;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::roster;
use crate::service::model::{CodeKind, MessageRecord, Tenant};
use crate::service::ops::conversion::{fields, values, ConvTags, Figure};

/// What a code text to `phone` in `locale` counts under.
pub fn tags_for(tenant: &Tenant, phone: &Phone, code_kind: CodeKind, locale: &str) -> ConvTags {
    let s = &tenant.settings;
    let template = if s.template.is_some() {
        "custom".to_string()
    } else {
        let style = s.text_style.unwrap_or(match code_kind {
            CodeKind::Words => TextStyle::Natural,
            CodeKind::Digits => TextStyle::Standard,
        });
        let style = match style {
            TextStyle::Natural => "natural",
            TextStyle::Standard => "standard",
        };
        format!("{style}/{locale}")
    };
    ConvTags {
        country: phone
            .region()
            .map(str::to_string)
            .unwrap_or_else(|| format!("+{}", phone.country_code())),
        prefix: prefix_of(phone).label,
        template,
    }
}

/// Adds `figure` of the OTP text `m` to the request's counts (`ttv_ms`: a verification's time
/// from its first send). Texts without tags (other kinds, older records) count by tenant and
/// phone only.
pub async fn count<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    m: &MessageRecord,
    figure: Figure,
    ttv_ms: Option<i64>,
) {
    if m.kind != MessageKind::Otp || m.gateway_id.is_empty() {
        return;
    }
    let sim = roster::sim_of(app, &m.gateway_id).await;
    let tags = m.conv.clone().unwrap_or_default();
    for f in fields(
        &values(&m.tenant_id, &tags, &m.gateway_id, &sim),
        figure,
        ttv_ms,
    ) {
        ctx.count_field(&m.tenant_id, &f);
    }
}
