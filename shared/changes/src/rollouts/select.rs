//! The tenants a rollout's selector names: `tenant_ids` read with `BatchGetItem`; otherwise one
//! index `Query` (tenants of the customer on gsi3, else on the release on gsi4, else in the
//! state on gsi2, else the tenant collection on gsi1), the other criteria as filters on it, and
//! every criterion checked again on what comes back.

use domain::{RolloutSelector, Tenant};
use serde_json::json;
use store::layout::{self, Record, collection};
use store::{Index, Query};

use crate::{ChangeError, Changes};

/// Extension of the selector for the store (kept out of the domain, which knows no table).
trait SelectorQuery {
    fn query(&self) -> Query;
}

impl SelectorQuery for RolloutSelector {
    fn query(&self) -> Query {
        let mut q = match (&self.customer_id, &self.release, self.state) {
            (Some(c), _, _) => Query::new(Some(Index::Gsi3), layout::tenants_of_customer(c)),
            (None, Some(r), _) => Query::new(Some(Index::Gsi4), layout::tenants_on_release(r)),
            (None, None, Some(s)) => Query::new(Some(Index::Gsi2), layout::tenants_in_state(s)),
            (None, None, None) => Query::new(Some(Index::Gsi1), collection::TENANTS),
        };
        if let (Some(_), Some(r)) = (&self.customer_id, &self.release) {
            q = q.filter("release", json!(r.to_string()));
        }
        if let (true, Some(s)) = (self.customer_id.is_some() || self.release.is_some(), self.state) {
            q = q.filter("state", json!(s.as_str()));
        }
        for (k, v) in self.tags.iter().flat_map(|f| f.pairs()) {
            q = q.filter(&format!("tags.{k}"), json!(v.as_str()));
        }
        q.limit(500)
    }
}

/// What a selection read.
#[derive(Debug, Default)]
pub struct Selection {
    pub tenants: Vec<Tenant>,
    /// `Query` pages or `BatchGetItem` calls.
    pub reads: usize,
}

impl Changes {
    /// The tenants `selector` names, in id order (in the order given for `tenant_ids`). A
    /// `tenant_ids` entry that names no tenant is a 422 naming it.
    pub async fn select(&self, selector: &RolloutSelector) -> Result<Selection, ChangeError> {
        let mut out = Selection::default();
        if let Some(ids) = &selector.tenant_ids {
            let keys: Vec<_> = ids.iter().map(layout::tenant_key).collect();
            let items = self.table.batch_get(&keys).await?;
            out.reads += keys.len().div_ceil(100);
            let mut found = Vec::new();
            for item in items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                found.push(Tenant::from_item(item)?);
            }
            for (i, id) in ids.iter().enumerate() {
                match found.iter().position(|t| &t.id == id) {
                    Some(at) => {
                        let t = found.swap_remove(at);
                        if selector.takes(&t) {
                            out.tenants.push(t);
                        }
                    }
                    None => {
                        return Err(ChangeError::invalid(
                            &format!("selector.tenant_ids[{i}]"),
                            format!("no tenant {id}"),
                        ));
                    }
                }
            }
            return Ok(out);
        }
        let query = selector.query();
        let mut start = None;
        loop {
            let page = self.table.query(&query.clone().start(start)).await?;
            out.reads += 1;
            for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                let t = Tenant::from_item(item)?;
                if selector.takes(&t) {
                    out.tenants.push(t);
                }
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }
}
