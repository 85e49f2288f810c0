//! `counters/{scope}_{period}_{shard}`: analytics counts, written by their durable holder
//! (`Platform::tally`: a tally Durable Object on Workers) through `Repo::add_counts`.

use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::ops::analytics::{counter_path, Granularity, SHARDS};
use crate::service::repo::view::Repo;
use crate::store::{StoreError, Write};

/// Counts to add: (counter document path, [(field, amount)]).
pub type CountDocs = Vec<(String, Vec<(String, i64)>)>;

impl<H: HttpClient> Repo<'_, H> {
    /// Adds `docs` to their counters (field increments: commits never conflict).
    pub async fn add_counts(&self, docs: &CountDocs) -> Result<(), StoreError> {
        let writes: Vec<Write> = docs
            .iter()
            .map(|(path, fields)| {
                let f: Vec<(&str, i64)> = fields.iter().map(|(k, n)| (k.as_str(), *n)).collect();
                Write::increments(path.clone(), &f)
            })
            .collect();
        self.commit_chunked(writes).await
    }

    /// Each period's counters, summed over the shards.
    pub async fn counter_totals(
        &self,
        scope: &str,
        periods: &[String],
    ) -> Result<Vec<serde_json::Map<String, Value>>, StoreError> {
        let paths: Vec<String> = periods
            .iter()
            .flat_map(|p| (0..SHARDS).map(move |s| counter_path(scope, p, s)))
            .collect();
        let docs = self
            .db
            .batch_get::<Value, _>(self.http, self.now, &paths)
            .await?;
        let mut out = vec![serde_json::Map::new(); periods.len()];
        for (i, d) in docs.into_iter().enumerate() {
            let Some(d) = d else { continue };
            let totals = &mut out[i / SHARDS as usize];
            for (k, v) in d.value.as_object().into_iter().flatten() {
                let sum =
                    totals.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
                totals.insert(k.clone(), json!(sum));
            }
        }
        Ok(out)
    }

    /// Today's counts.
    pub async fn event_totals(&self, scope: &str, now: i64) -> Result<Value, StoreError> {
        let day = Granularity::Day.period(now);
        let totals = self
            .counter_totals(scope, std::slice::from_ref(&day))
            .await?;
        Ok(
            json!({"day": day[1..].to_string(), "events": totals.into_iter().next().unwrap_or_default()}),
        )
    }
}
