//! What an isolate remembers for a moment so a busy service does not read the same thing again
//! and again: one value (`TtlCell`) or one per key (`TtlMap`), each with the time it was put.
//! The caller says how old is too old, so one type serves the probes, the geo relaxations, the
//! fleet's standings, the alert configuration, the CORS origins and the webhook targets.

use std::collections::HashMap;
use std::sync::Mutex;

/// One value and when it was put.
#[derive(Debug)]
pub struct TtlCell<T>(Mutex<Option<(i64, T)>>);

impl<T> Default for TtlCell<T> {
    fn default() -> Self {
        TtlCell(Mutex::new(None))
    }
}

impl<T: Clone> TtlCell<T> {
    /// The value, if it was put less than `ttl_ms` before `now`.
    pub fn fresh(&self, now: i64, ttl_ms: i64) -> Option<T> {
        self.last()
            .filter(|(at, _)| now - at < ttl_ms)
            .map(|(_, v)| v)
    }

    /// The value however old, and when it was put (for an answer when the source fails).
    pub fn last(&self) -> Option<(i64, T)> {
        self.0.lock().ok().and_then(|c| c.clone())
    }

    pub fn put(&self, now: i64, value: T) {
        if let Ok(mut c) = self.0.lock() {
            *c = Some((now, value));
        }
    }

    /// Forgets the value: the next reader reads afresh.
    pub fn clear(&self) {
        if let Ok(mut c) = self.0.lock() {
            *c = None;
        }
    }
}

/// One value per key, each with when it was put; past `cap` keys it starts again empty (an
/// isolate's memory stays bounded whatever the callers send).
#[derive(Debug)]
pub struct TtlMap<V> {
    entries: Mutex<HashMap<String, (i64, V)>>,
    cap: usize,
}

impl<V> Default for TtlMap<V> {
    fn default() -> Self {
        TtlMap::with_cap(10_000)
    }
}

impl<V> TtlMap<V> {
    pub fn with_cap(cap: usize) -> Self {
        TtlMap {
            entries: Mutex::new(HashMap::new()),
            cap,
        }
    }
}

impl<V: Clone> TtlMap<V> {
    /// The value of `key`, if it was put less than `ttl_ms` before `now`.
    pub fn fresh(&self, key: &str, now: i64, ttl_ms: i64) -> Option<V> {
        self.last(key)
            .filter(|(at, _)| now - at < ttl_ms)
            .map(|(_, v)| v)
    }

    /// The value of `key` however old, and when it was put.
    pub fn last(&self, key: &str) -> Option<(i64, V)> {
        self.entries.lock().ok().and_then(|c| c.get(key).cloned())
    }

    pub fn put(&self, key: &str, now: i64, value: V) {
        if let Ok(mut c) = self.entries.lock() {
            if c.len() >= self.cap && !c.contains_key(key) {
                c.clear();
            }
            c.insert(key.to_string(), (now, value));
        }
    }

    pub fn remove(&self, key: &str) {
        if let Ok(mut c) = self.entries.lock() {
            c.remove(key);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut c) = self.entries.lock() {
            c.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_fresh_for_its_ttl_and_kept_for_a_fallback() {
        let c = TtlCell::default();
        assert_eq!(c.fresh(0, 10), None::<u32>);
        c.put(100, 7u32);
        assert_eq!(c.fresh(109, 10), Some(7));
        assert_eq!(c.fresh(110, 10), None);
        assert_eq!(c.last(), Some((100, 7)));
        c.clear();
        assert_eq!(c.last(), None);
    }

    #[test]
    fn a_map_keeps_each_key_apart_and_stays_bounded() {
        let m = TtlMap::with_cap(2);
        m.put("a", 0, true);
        m.put("b", 5, false);
        assert_eq!(m.fresh("a", 9, 10), Some(true));
        assert_eq!(m.fresh("b", 9, 10), Some(false));
        assert_eq!(m.fresh("a", 10, 10), None);
        m.put("a", 20, false);
        assert_eq!(
            m.last("a"),
            Some((20, false)),
            "a known key is replaced, not a reason to empty"
        );
        m.put("c", 21, true);
        assert_eq!(m.last("a"), None, "a third key starts again empty");
        assert_eq!(m.last("c"), Some((21, true)));
        m.remove("c");
        assert_eq!(m.last("c"), None);
    }
}
