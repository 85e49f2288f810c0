//! The typed answers of analytics (`GET /v1/analytics`, `GET /v1/admin/analytics`) and
//! conversion (`GET /v1/analytics/conversion`, `GET /v1/admin/conversion`): the range asked for
//! around the service's figures (`service::ops::analytics`, `service::ops::conversion`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::fleet::standing::PhoneConversion;
use crate::service::ops::analytics::PeriodFigures;
use crate::service::ops::conversion::{Dim, Row};

/// Analytics by hour, day, ISO week or month over a date range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsReport {
    /// A tenant's id, or `_all`: the whole service.
    #[schema(example = "_all")]
    pub scope: String,
    /// `hour`, `day`, `week` or `month`.
    #[schema(example = "day")]
    pub granularity: String,
    #[schema(example = "2026-12-01")]
    pub from: String,
    #[schema(example = "2026-12-06")]
    pub to: String,
    /// The whole range.
    pub total: PeriodFigures,
    /// One entry per period, oldest first.
    pub series: Vec<PeriodFigures>,
}

/// Conversion by one dimension over a date range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversionReport {
    /// A tenant's id, or `_all`: the whole service.
    #[schema(example = "_all")]
    pub scope: String,
    pub by: Dim,
    /// `hour`, `day`, `week` or `month`.
    #[schema(example = "day")]
    pub granularity: String,
    #[schema(example = "2026-12-01")]
    pub from: String,
    #[schema(example = "2026-12-06")]
    pub to: String,
    /// Every text of the scope in the range.
    pub total: Row,
    /// One row per value, most codes sent first (at most `limit`).
    pub rows: Vec<Row>,
    /// Values left out by `limit`.
    pub more: usize,
    /// By sim or gateway (operators only): the demotion rule the standings follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<DemotionRuleView>,
    /// By sim or gateway (operators only): each phone's conversion standing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<PhoneConversion>>,
}

/// When a SIM is routed last for its conversion.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DemotionRuleView {
    /// The window the figures are counted over.
    pub window_hours: u32,
    /// Codes a SIM must have sent in the window to be judged.
    pub min_codes: i64,
    /// Demoted below this fraction of the pool's median conversion.
    pub below_fraction_of_pool_median: f64,
}
