//! Which endpoints are reachable for calls to a resource: browser sessions that went `online`,
//! registered SIP contacts. Front-ends report changes; ringing reads them.

use std::collections::{BTreeMap, BTreeSet};

use super::{EndpointId, Party, Presence};
use crate::media::Flavor;

/// What the controller knows of a reachable endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub project_id: String,
    pub resource_id: String,
    pub party: Party,
    pub flavor: Flavor,
}

/// Reachable endpoints, by `(project, resource)`.
#[derive(Debug, Default)]
pub(super) struct Presences {
    endpoints: BTreeMap<EndpointId, Reach>,
    by_resource: BTreeMap<(String, String), BTreeSet<EndpointId>>,
}

impl Presences {
    /// Applies a front-end's report.
    pub fn update(&mut self, p: Presence) {
        self.remove(&p.endpoint);
        if !p.online {
            return;
        }
        let key = (p.party.project_id.clone(), p.resource_id.clone());
        self.by_resource
            .entry(key)
            .or_default()
            .insert(p.endpoint.clone());
        self.endpoints.insert(
            p.endpoint,
            Reach {
                project_id: p.party.project_id.clone(),
                resource_id: p.resource_id,
                party: p.party,
                flavor: p.flavor,
            },
        );
    }

    fn remove(&mut self, endpoint: &EndpointId) {
        let Some(old) = self.endpoints.remove(endpoint) else {
            return;
        };
        let key = (old.project_id, old.resource_id);
        if let Some(set) = self.by_resource.get_mut(&key) {
            set.remove(endpoint);
            if set.is_empty() {
                self.by_resource.remove(&key);
            }
        }
    }

    /// The endpoints that calls to `resource_id` ring, in a stable order, without `except`.
    pub fn reachable(
        &self,
        project_id: &str,
        resource_id: &str,
        except: Option<&EndpointId>,
    ) -> Vec<(EndpointId, Reach)> {
        let key = (project_id.to_owned(), resource_id.to_owned());
        self.by_resource
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|e| Some(*e) != except)
            .filter_map(|e| Some((e.clone(), self.endpoints.get(e)?.clone())))
            .collect()
    }

    /// Number of reachable endpoints.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }
}
