//! Document operations over the Firestore REST API: get, batch get, list, equality query and
//! atomic commits of writes with preconditions and increment transforms.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::TokenSource;
use super::value::{field_path, fields_of, from_fields};
use crate::config::Config;
use crate::net::{HttpClient, OutboundRequest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    /// A precondition (update time, existence) did not hold.
    PreconditionFailed(String),
    /// Contention: the transaction or write was aborted; retrying may succeed.
    Aborted(String),
    Unavailable(String),
    Auth(String),
    Invalid(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("not found"),
            StoreError::AlreadyExists => f.write_str("already exists"),
            StoreError::PreconditionFailed(m) => write!(f, "precondition failed: {m}"),
            StoreError::Aborted(m) => write!(f, "aborted: {m}"),
            StoreError::Unavailable(m) => write!(f, "unavailable: {m}"),
            StoreError::Auth(m) => write!(f, "auth: {m}"),
            StoreError::Invalid(m) => write!(f, "invalid: {m}"),
        }
    }
}

/// A document read back, with the update time that guards a later write.
#[derive(Debug, Clone)]
pub struct Doc<T> {
    pub path: String,
    pub value: T,
    pub update_time: String,
}

impl<T> Doc<T> {
    /// The document's id: the last segment of its path.
    pub fn id(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Precondition {
    Exists(bool),
    UpdateTime(String),
}

/// One condition of [`Firestore::query`]: `field` `op` `value`, with Firestore's operator names
/// (`EQUAL`, `LESS_THAN`, ...).
#[derive(Debug, Clone)]
pub struct Filter {
    field: String,
    op: &'static str,
    value: Value,
}

impl Filter {
    pub fn new(field: &str, op: &'static str, value: Value) -> Self {
        Filter {
            field: field.to_string(),
            op,
            value,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Write {
    body: Value,
}

impl Write {
    /// Replaces the whole document at `path` (relative, e.g. `tenants/t_1`).
    pub fn set<T: Serialize + ?Sized>(path: String, value: &T) -> Self {
        let fields = match serde_json::to_value(value) {
            Ok(Value::Object(o)) => fields_of(o),
            _ => json!({}),
        };
        Write {
            body: json!({"update": {"name": path, "fields": fields}}),
        }
    }

    /// Writes the top-level fields of `value` and leaves the document's other fields as they are
    /// (an update mask), creating the document when missing.
    pub fn merge<T: Serialize + ?Sized>(path: String, value: &T) -> Self {
        let (fields, mask): (Value, Vec<String>) = match serde_json::to_value(value) {
            Ok(Value::Object(o)) => {
                let mask = o.keys().map(|k| field_path(k)).collect();
                (fields_of(o), mask)
            }
            _ => (json!({}), Vec::new()),
        };
        Write {
            body: json!({"update": {"name": path, "fields": fields}, "updateMask": {"fieldPaths": mask}}),
        }
    }

    pub fn delete(path: String) -> Self {
        Write {
            body: json!({"delete": path}),
        }
    }

    /// Adds `by` to an integer field, creating the document and field when missing.
    pub fn increment(path: String, field: &str, by: i64) -> Self {
        Self::increments(path, &[(field, by)])
    }

    /// Several increments on one document in one write.
    pub fn increments(path: String, fields: &[(&str, i64)]) -> Self {
        let transforms: Vec<Value> = fields.iter().map(|(f, by)| json!({"fieldPath": field_path(f), "increment": {"integerValue": by.to_string()}})).collect();
        Write {
            body: json!({"transform": {"document": path, "fieldTransforms": transforms}}),
        }
    }

    pub fn precondition(mut self, p: Precondition) -> Self {
        self.body["currentDocument"] = match p {
            Precondition::Exists(e) => json!({"exists": e}),
            Precondition::UpdateTime(t) => json!({"updateTime": t}),
        };
        self
    }

    /// The document this write changes (relative path).
    fn path(&self) -> &str {
        ["/update/name", "/delete", "/transform/document"]
            .iter()
            .find_map(|p| self.body.pointer(p).and_then(Value::as_str))
            .unwrap_or_default()
    }

    /// The body with the relative path made a full resource name.
    fn resolved(&self, root: &str) -> Value {
        let mut b = self.body.clone();
        for ptr in ["/update/name", "/delete", "/transform/document"] {
            if let Some(v) = b.pointer_mut(ptr) {
                *v = json!(format!("{root}/{}", v.as_str().unwrap_or_default()));
            }
        }
        b
    }
}

enum Auth {
    Emulator,
    ServiceAccount(TokenSource),
}

pub struct Firestore {
    /// `http(s)://host/v1`
    base: String,
    /// `projects/{p}/databases/(default)/documents`
    root: String,
    auth: Auth,
    /// Why the store cannot be used (bad credentials); reported on every call.
    broken: Option<String>,
    timeout_ms: u32,
}

impl Firestore {
    pub fn new(cfg: &Config) -> Self {
        let root = format!(
            "projects/{}/databases/(default)/documents",
            cfg.firestore_project
        );
        let timeout_ms = cfg.store_timeout_ms;
        if cfg.write_heat {
            super::heat::enable();
        }
        let base = cfg
            .firestore_base_url
            .clone()
            .unwrap_or_else(|| "https://firestore.googleapis.com/v1".into());
        match (&cfg.firestore_emulator_host, &cfg.service_account_json) {
            (Some(host), _) => Self {
                base: format!("http://{host}/v1"),
                root,
                auth: Auth::Emulator,
                broken: None,
                timeout_ms,
            },
            // A token exchange may take no longer than a store call.
            (None, Some(json)) => match TokenSource::from_json(json) {
                Ok(ts) => Self {
                    base,
                    root,
                    auth: Auth::ServiceAccount(ts.timeout_ms(timeout_ms)),
                    broken: None,
                    timeout_ms,
                },
                Err(e) => Self {
                    base,
                    root,
                    auth: Auth::Emulator,
                    broken: Some(e.to_string()),
                    timeout_ms,
                },
            },
            (None, None) => Self {
                base,
                root,
                auth: Auth::Emulator,
                broken: Some(
                    "neither FIRESTORE_EMULATOR_HOST nor GOOGLE_SERVICE_ACCOUNT_JSON is set".into(),
                ),
                timeout_ms,
            },
        }
    }

    /// A client that answers every call with `Auth` (the configuration could not be read).
    pub fn unconfigured() -> Self {
        Self {
            base: String::new(),
            root: String::new(),
            auth: Auth::Emulator,
            broken: Some("the store is not configured".into()),
            timeout_ms: 1_000,
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    async fn call<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        method: &str,
        url: String,
        body: Option<Value>,
    ) -> Result<Value, StoreError> {
        if let Some(why) = &self.broken {
            return Err(StoreError::Auth(why.clone()));
        }
        let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
        super::metrics::count(super::metrics::Op::of(method, &url));
        // A token refused with 401 (revoked, its key disabled or rotated) is forgotten, and the
        // call is made once more with a fresh one.
        let mut retried = false;
        let resp = loop {
            let token = match &self.auth {
                Auth::Emulator => "owner".to_string(),
                Auth::ServiceAccount(ts) => ts
                    .token(http, now_ms)
                    .await
                    .map_err(|e| StoreError::Auth(e.to_string()))?,
            };
            let mut req = OutboundRequest::new(method, url.clone())
                .header("authorization", format!("Bearer {token}"))
                .timeout_ms(self.timeout_ms);
            if let Some(b) = &body {
                req = req.json_body(b.clone());
            }
            let resp = http
                .send(req)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            match &self.auth {
                Auth::ServiceAccount(ts) if resp.status == 401 && !retried => {
                    ts.forget(&token);
                    retried = true;
                }
                _ => break resp,
            }
        };
        let parsed: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.is_success() {
            return Ok(parsed);
        }
        let status = parsed["error"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let message = parsed["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>();
        Err(match (resp.status, status.as_str()) {
            (404, _) | (_, "NOT_FOUND") => StoreError::NotFound,
            (_, "ALREADY_EXISTS") => StoreError::AlreadyExists,
            (_, "FAILED_PRECONDITION") => StoreError::PreconditionFailed(message),
            (_, "ABORTED") => StoreError::Aborted(message),
            (401 | 403, _) => StoreError::Auth(message),
            (400, _) => StoreError::Invalid(format!("{status}: {message}")),
            _ => StoreError::Unavailable(format!("http {} {status}: {message}", resp.status)),
        })
    }

    /// `POST {root}:{verb}`: the document-set operations (batchGet, commit, runQuery...).
    async fn rpc<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        verb: &str,
        body: Option<Value>,
    ) -> Result<Value, StoreError> {
        let url = format!("{}/{}:{verb}", self.base, self.root);
        self.call(http, now_ms, "POST", url, body).await
    }

    /// A document of a response, taken out of it.
    fn doc_of<T: DeserializeOwned>(&self, mut d: Value) -> Result<Doc<T>, StoreError> {
        let name = d["name"].as_str().unwrap_or_default();
        let path = name
            .strip_prefix(&self.root)
            .map(|p| p.trim_start_matches('/'))
            .unwrap_or(name)
            .to_string();
        let update_time = d["updateTime"].as_str().unwrap_or_default().to_string();
        let value = serde_json::from_value(from_fields(d["fields"].take()))
            .map_err(|e| StoreError::Invalid(format!("{path}: {e}")))?;
        Ok(Doc {
            path,
            value,
            update_time,
        })
    }

    pub async fn get<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        path: &str,
    ) -> Result<Option<Doc<T>>, StoreError> {
        match self
            .call(
                http,
                now_ms,
                "GET",
                format!("{}/{}/{}", self.base, self.root, path),
                None,
            )
            .await
        {
            Ok(d) => self.doc_of(d).map(Some),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Several documents in one round trip, in the order asked (`None` where missing).
    pub async fn batch_get<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        paths: &[String],
    ) -> Result<Vec<Option<Doc<T>>>, StoreError> {
        let names: Vec<String> = paths.iter().map(|p| format!("{}/{p}", self.root)).collect();
        let mut out = self
            .rpc(http, now_ms, "batchGet", Some(json!({"documents": names})))
            .await?;
        let mut found = std::collections::HashMap::new();
        for item in out.as_array_mut().into_iter().flatten() {
            if item.get("found").is_some() {
                let d: Doc<T> = self.doc_of(item["found"].take())?;
                found.insert(d.path.clone(), d);
            }
        }
        Ok(paths.iter().map(|p| found.remove(p)).collect())
    }

    /// A page of a collection in document-id order, with the token for the next page.
    pub async fn list<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        limit: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Doc<T>>, Option<String>), StoreError> {
        let mut url = format!(
            "{}/{}/{}?pageSize={}",
            self.base, self.root, collection, limit
        );
        if let Some(t) = page_token {
            url.push_str("&pageToken=");
            url.push_str(&crate::net::url_encode(t));
        }
        let mut out = self.call(http, now_ms, "GET", url, None).await?;
        let docs = match out["documents"].take() {
            Value::Array(a) => a,
            _ => Vec::new(),
        }
        .into_iter()
        .map(|d| self.doc_of(d))
        .collect::<Result<Vec<_>, _>>()?;
        Ok((
            docs,
            out["nextPageToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        ))
    }

    /// Documents of a top-level collection whose ids start with `prefix`, in id order: a range on
    /// `__name__` (ids of characters below `~`, such as hex digests).
    pub async fn list_id_prefix<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        let name = |id: &str| json!({"referenceValue": format!("{}/{collection}/{id}", self.root)});
        let bound = |op: &str, id: &str| json!({"fieldFilter": {"field": {"fieldPath": "__name__"}, "op": op, "value": name(id)}});
        let sq = json!({
            "from": [{"collectionId": collection}],
            "where": {"compositeFilter": {"op": "AND", "filters": [
                bound("GREATER_THAN_OR_EQUAL", prefix),
                bound("LESS_THAN", &format!("{prefix}~")),
            ]}},
            "limit": limit,
        });
        self.run_query(http, now_ms, sq).await
    }

    /// The names of every top-level collection (`:listCollectionIds`), sorted.
    pub async fn list_collection_ids<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"pageSize": 100});
            if let Some(t) = &token {
                body["pageToken"] = json!(t);
            }
            let out = self
                .rpc(http, now_ms, "listCollectionIds", Some(body))
                .await?;
            ids.extend(
                out["collectionIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string)),
            );
            match out["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Documents of a top-level collection whose `field` equals `value`.
    pub async fn query_eq<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        field: &str,
        value: Value,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        self.query(
            http,
            now_ms,
            collection,
            &[Filter::new(field, "EQUAL", value)],
            None,
            limit,
        )
        .await
    }

    /// Documents of a top-level collection matching every filter, in ascending `order_by` order.
    /// An equality and a range on different fields need a composite index in production
    /// (`firestore.indexes.json`); the emulator needs none.
    pub async fn query<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        filters: &[Filter],
        order_by: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        self.query_ordered(http, now_ms, collection, filters, order_by, false, limit)
            .await
    }

    /// [`Firestore::query`] in ascending or (`descending`) descending `order_by` order: newest
    /// first lists (a tenant's messages, an endpoint's deliveries). A descending order with an
    /// equality filter needs its composite index in production (`firestore.indexes.json`).
    #[allow(clippy::too_many_arguments)]
    pub async fn query_ordered<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        filters: &[Filter],
        order_by: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        let order = order_by.map(|f| (f, descending));
        self.query_page(http, now_ms, collection, filters, order, None, limit)
            .await
    }

    /// One page of a query in `order` (field, descending), ties broken by document id in the
    /// same direction, starting after the document `after` = (its `order` field's value, its id):
    /// a cursor that stays right while documents are added (message logs).
    #[allow(clippy::too_many_arguments)]
    pub async fn query_page<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        collection: &str,
        filters: &[Filter],
        order: Option<(&str, bool)>,
        after: Option<(&Value, &str)>,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        let mut conditions: Vec<Value> = filters
            .iter()
            // A dotted name is a path into maps (`settings.cors_origins`).
            .map(|f| json!({"fieldFilter": {"field": {"fieldPath": f.field.split('.').map(field_path).collect::<Vec<_>>().join(".")}, "op": f.op, "value": super::value::to_firestore(f.value.clone())}}))
            .collect();
        let mut sq = json!({"from": [{"collectionId": collection}], "limit": limit});
        match conditions.len() {
            0 => {}
            1 => sq["where"] = conditions.remove(0),
            _ => sq["where"] = json!({"compositeFilter": {"op": "AND", "filters": conditions}}),
        }
        if let Some((f, descending)) = order {
            let direction = if descending {
                "DESCENDING"
            } else {
                "ASCENDING"
            };
            sq["orderBy"] =
                json!([{"field": {"fieldPath": field_path(f)}, "direction": direction}]);
            if let Some((value, id)) = after {
                sq["orderBy"]
                    .as_array_mut()
                    .expect("an array")
                    .push(json!({"field": {"fieldPath": "__name__"}, "direction": direction}));
                let name = format!("{}/{collection}/{id}", self.root);
                sq["startAt"] = json!({"values": [super::value::to_firestore(value.clone()), {"referenceValue": name}], "before": false});
            }
        }
        self.run_query(http, now_ms, sq).await
    }

    /// `runQuery` with one structured query: the documents it found, in its order.
    async fn run_query<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        structured_query: Value,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        let q = json!({ "structuredQuery": structured_query });
        let mut out = self.rpc(http, now_ms, "runQuery", Some(q)).await?;
        out.as_array_mut()
            .into_iter()
            .flatten()
            .filter(|r| r.get("document").is_some())
            .map(|r| self.doc_of(r["document"].take()))
            .collect()
    }

    /// Applies all writes atomically; returns each write's update time.
    pub async fn commit<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        writes: Vec<Write>,
    ) -> Result<Vec<String>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let times = self
            .commit_body(
                http,
                now_ms,
                json!({"writes": writes.iter().map(|w| w.resolved(&self.root)).collect::<Vec<_>>()}),
            )
            .await?;
        super::heat::record(writes.iter().map(Write::path));
        Ok(times)
    }

    /// Starts a read-write transaction: reads made with [`Firestore::get_in`] lock their documents
    /// until [`Firestore::commit_in`] or [`Firestore::rollback`].
    pub async fn begin_transaction<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        let out = self
            .rpc(
                http,
                now_ms,
                "beginTransaction",
                Some(json!({"options": {"readWrite": {}}})),
            )
            .await?;
        out["transaction"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| StoreError::Invalid("no transaction id".into()))
    }

    pub async fn get_in<T: DeserializeOwned, H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        transaction: &str,
        path: &str,
    ) -> Result<Option<Doc<T>>, StoreError> {
        let body =
            json!({"documents": [format!("{}/{path}", self.root)], "transaction": transaction});
        let mut out = self.rpc(http, now_ms, "batchGet", Some(body)).await?;
        match out
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|i| i.get("found").is_some()))
        {
            Some(item) => self.doc_of(item["found"].take()).map(Some),
            None => Ok(None),
        }
    }

    pub async fn commit_in<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        transaction: &str,
        writes: Vec<Write>,
    ) -> Result<Vec<String>, StoreError> {
        let times = self.commit_body(http, now_ms, json!({"transaction": transaction, "writes": writes.iter().map(|w| w.resolved(&self.root)).collect::<Vec<_>>()})).await?;
        super::heat::record(writes.iter().map(Write::path));
        Ok(times)
    }

    pub async fn rollback<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        transaction: &str,
    ) -> Result<(), StoreError> {
        self.rpc(
            http,
            now_ms,
            "rollback",
            Some(json!({"transaction": transaction})),
        )
        .await
        .map(|_| ())
    }

    async fn commit_body<H: HttpClient>(
        &self,
        http: &H,
        now_ms: i64,
        body: Value,
    ) -> Result<Vec<String>, StoreError> {
        let out = self.rpc(http, now_ms, "commit", Some(body)).await?;
        Ok(out["writeResults"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["updateTime"].as_str().unwrap_or_default().to_string())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_resolve_to_full_names_with_preconditions() {
        let w = Write::set("tenants/t_1".into(), &json!({"n": 1}))
            .precondition(Precondition::Exists(false));
        let b = w.resolved("projects/p/databases/(default)/documents");
        assert_eq!(
            b["update"]["name"],
            "projects/p/databases/(default)/documents/tenants/t_1"
        );
        assert_eq!(b["update"]["fields"]["n"]["integerValue"], "1");
        assert_eq!(b["currentDocument"]["exists"], false);
        assert_eq!(w.path(), "tenants/t_1");
        assert_eq!(Write::delete("a/b".into()).path(), "a/b");
        let t = Write::increment("c/x".into(), "otp_sent", 2);
        assert_eq!(t.path(), "c/x");
        let t = t.resolved("R");
        assert_eq!(t["transform"]["document"], "R/c/x");
        assert_eq!(
            t["transform"]["fieldTransforms"][0]["increment"]["integerValue"],
            "2"
        );
    }
}
