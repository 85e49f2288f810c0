//! `config/geo`: the service-wide relaxations of the high-risk range deny (see `service::geo`).

use crate::net::HttpClient;
use crate::service::abuse::geo::GlobalGeo;
use crate::service::repo::view::Repo;
use crate::store::{StoreError, Write};

const GEO_CONFIG: &str = "config/geo";

impl<H: HttpClient> Repo<'_, H> {
    /// The stored relaxations; none when the document was never written.
    pub async fn get_global_geo(&self) -> Result<GlobalGeo, StoreError> {
        let doc = self
            .db
            .get::<GlobalGeo, _>(self.http, self.now, GEO_CONFIG)
            .await?;
        Ok(doc.map(|d| d.value).unwrap_or_default())
    }

    pub async fn put_global_geo(&self, g: &GlobalGeo) -> Result<(), StoreError> {
        self.commit(vec![Write::set(GEO_CONFIG.to_string(), g)])
            .await
            .map(|_| ())
    }
}
