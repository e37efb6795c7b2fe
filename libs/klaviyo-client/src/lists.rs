//! Lists: find or create by name, and membership by profile id in batches.
//!
//! Membership never touches consent: no subscribe, unsubscribe or suppression call exists
//! in this client, since any of those would also stop transactional email.

use serde_json::{Value, json};

use crate::client::{KlaviyoClient, filter_string};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::profiles::{ProfileKey, path_segment, resource_id};

/// A list found or created by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRef {
    /// Klaviyo's list id.
    pub id: String,
    /// Whether this call created it.
    pub created: bool,
}

/// The body of `POST /api/lists`.
pub fn create_list_body(name: &str) -> Value {
    json!({ "data": { "type": "list", "attributes": { "name": name } } })
}

/// The body of `POST`/`DELETE /api/lists/{id}/relationships/profiles`.
pub fn list_members_body(profile_ids: &[String]) -> Value {
    let data: Vec<Value> = profile_ids
        .iter()
        .map(|id| json!({ "type": "profile", "id": id }))
        .collect();
    json!({ "data": data })
}

/// What a membership change by identifier did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipReport {
    /// Input indices whose profile was added or removed.
    pub done: Vec<usize>,
    /// Input indices with no Klaviyo profile for the identifier.
    pub unresolved: Vec<usize>,
}

impl KlaviyoClient {
    /// The id of the list named exactly `name`, if one exists.
    pub async fn find_list_by_name(&self, name: &str) -> Result<Option<String>, Error> {
        let endpoint = Endpoint::GetLists;
        let query = [
            ("filter", format!("equals(name,{})", filter_string(name))),
            ("fields[list]", "name".to_owned()),
        ];
        let document = self.send(endpoint, "/api/lists", &query, None).await?.json(endpoint)?;
        Ok(document.get("data").and_then(Value::as_array).and_then(|lists| {
            lists
                .iter()
                .find(|list| list.pointer("/attributes/name").and_then(Value::as_str) == Some(name))
                .and_then(|list| list.get("id").and_then(Value::as_str))
                .map(str::to_owned)
        }))
    }

    /// The list named `name`, created when missing.
    pub async fn ensure_list(&self, name: &str) -> Result<ListRef, Error> {
        if name.trim().is_empty() {
            return Err(Error::InvalidInput {
                what: "list",
                reason: "name is empty".to_owned(),
            });
        }
        if let Some(id) = self.find_list_by_name(name).await? {
            return Ok(ListRef { id, created: false });
        }
        let endpoint = Endpoint::CreateList;
        let answer = self
            .send(endpoint, "/api/lists", &[], Some(&create_list_body(name)))
            .await?;
        let id = resource_id(&answer.json(endpoint)?, endpoint)?;
        tracing::info!(list_id = %id, "created klaviyo list");
        Ok(ListRef { id, created: true })
    }

    /// Adds profiles (by Klaviyo id) to a list, in batches of `list_batch_size`.
    pub async fn add_profiles_to_list(&self, list_id: &str, profile_ids: &[String]) -> Result<(), Error> {
        self.change_members(Endpoint::AddProfilesToList, list_id, profile_ids)
            .await
    }

    /// Removes profiles (by Klaviyo id) from a list; their consent is untouched.
    pub async fn remove_profiles_from_list(&self, list_id: &str, profile_ids: &[String]) -> Result<(), Error> {
        self.change_members(Endpoint::RemoveProfilesFromList, list_id, profile_ids)
            .await
    }

    async fn change_members(&self, endpoint: Endpoint, list_id: &str, profile_ids: &[String]) -> Result<(), Error> {
        let path = format!("/api/lists/{}/relationships/profiles", path_segment(list_id)?);
        for batch in profile_ids.chunks(self.inner.settings.list_batch_size) {
            self.send(endpoint, &path, &[], Some(&list_members_body(batch))).await?;
        }
        Ok(())
    }

    /// Adds the profiles with these identifiers to a list, resolving ids through the cache.
    /// When Klaviyo refuses a batch with 404 (a cached id was merged away), the batch's
    /// identifiers are looked up again and the batch is sent once more.
    pub async fn add_to_list_by_keys(&self, list_id: &str, keys: &[ProfileKey]) -> Result<MembershipReport, Error> {
        self.change_members_by_keys(Endpoint::AddProfilesToList, list_id, keys)
            .await
    }

    /// Removes the profiles with these identifiers from a list, like [`Self::add_to_list_by_keys`].
    pub async fn remove_from_list_by_keys(
        &self,
        list_id: &str,
        keys: &[ProfileKey],
    ) -> Result<MembershipReport, Error> {
        self.change_members_by_keys(Endpoint::RemoveProfilesFromList, list_id, keys)
            .await
    }

    async fn change_members_by_keys(
        &self,
        endpoint: Endpoint,
        list_id: &str,
        keys: &[ProfileKey],
    ) -> Result<MembershipReport, Error> {
        let path = format!("/api/lists/{}/relationships/profiles", path_segment(list_id)?);
        let mut report = MembershipReport::default();
        let indices: Vec<usize> = (0..keys.len()).collect();
        for batch in indices.chunks(self.inner.settings.list_batch_size) {
            let mut resolved = Vec::with_capacity(batch.len());
            for index in batch {
                match self.find_profile_id(&keys[*index]).await? {
                    Some(id) => resolved.push((*index, id)),
                    None => report.unresolved.push(*index),
                }
            }
            if resolved.is_empty() {
                continue;
            }
            let ids: Vec<String> = resolved.iter().map(|(_, id)| id.clone()).collect();
            match self.send(endpoint, &path, &[], Some(&list_members_body(&ids))).await {
                Ok(_) => report.done.extend(resolved.iter().map(|(index, _)| *index)),
                Err(Error::Api { error, .. }) if error.status == 404 => {
                    tracing::info!(
                        profiles = resolved.len(),
                        "klaviyo did not find some profile ids, resolving again"
                    );
                    let mut fresh = Vec::with_capacity(resolved.len());
                    for (index, _) in &resolved {
                        match self.refresh_profile_id(&keys[*index]).await? {
                            Some(id) => fresh.push((*index, id)),
                            None => report.unresolved.push(*index),
                        }
                    }
                    if !fresh.is_empty() {
                        let ids: Vec<String> = fresh.iter().map(|(_, id)| id.clone()).collect();
                        self.send(endpoint, &path, &[], Some(&list_members_body(&ids))).await?;
                        report.done.extend(fresh.iter().map(|(index, _)| *index));
                    }
                }
                Err(other) => return Err(other),
            }
        }
        report.unresolved.sort_unstable();
        report.done.sort_unstable();
        Ok(report)
    }

    /// Every profile id in a list (all pages), to compute which members to add or remove.
    pub async fn list_profile_ids(&self, list_id: &str) -> Result<Vec<String>, Error> {
        let endpoint = Endpoint::GetProfileIdsForList;
        let path = format!("/api/lists/{}/relationships/profiles", path_segment(list_id)?);
        let ids = self
            .all_pages(endpoint, &path)
            .await?
            .iter()
            .filter_map(|item| item.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        Ok(ids)
    }
}
