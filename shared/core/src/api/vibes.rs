//! The vibes of a submitted job: their images go to the store under their hash (shared by
//! every job using the same image), and the price counts the encodings not stored yet.

use super::{ApiError, ApiService};
use crate::domain::GenerationParams;
use crate::domain::request::VibeImage;
use crate::domain::request::vibes::{encoded, vibe_surcharge};
use crate::objects::{vibe_encoding_key, vibe_source_key};

impl ApiService {
    /// Stores each vibe's image (again: a put refreshes its lifetime in the bucket).
    pub(super) async fn store_vibes(
        &self,
        params: &GenerationParams,
        images: Vec<VibeImage>,
    ) -> Result<(), ApiError> {
        let encoded = encoded(params.family);
        for v in images {
            let key = vibe_source_key(&v.hash, encoded);
            self.ports
                .images
                .put(&key, v.image.bytes.into(), v.image.content_type)
                .await?;
        }
        Ok(())
    }

    /// How many `/ai/encode-vibe` calls the job still needs: one per distinct (image,
    /// information extracted) whose encoding for the model is not stored.
    pub(super) async fn vibe_encodes_needed(
        &self,
        params: &GenerationParams,
    ) -> Result<u32, ApiError> {
        if !encoded(params.family) {
            return Ok(0);
        }
        let mut seen = Vec::new();
        let mut needed = 0;
        for v in &params.vibes {
            let key = vibe_encoding_key(&v.hash, &params.model, &v.ie_key());
            if seen.contains(&key) {
                continue;
            }
            if self.ports.images.get(&key).await?.is_none() {
                needed += 1;
            }
            seen.push(key);
        }
        Ok(needed)
    }

    /// Stores the references' fitted images as the job's inputs.
    pub(super) async fn store_references(
        &self,
        task_id: &crate::domain::TaskId,
        images: Vec<crate::domain::request::InputImage>,
    ) -> Result<(), ApiError> {
        for (i, img) in images.into_iter().enumerate() {
            let key = crate::objects::reference_key(task_id, i);
            self.ports
                .images
                .put(&key, img.bytes.into(), img.content_type)
                .await?;
        }
        Ok(())
    }

    /// The vibes' share of the price: encodes still needed, vibes beyond four.
    pub(super) async fn vibe_cost(
        &self,
        params: &GenerationParams,
    ) -> Result<(u32, u32), ApiError> {
        if params.vibes.is_empty() {
            return Ok((0, 0));
        }
        let encodes = self.vibe_encodes_needed(params).await?;
        Ok((
            encodes,
            vibe_surcharge(params.family, params.vibes.len(), encodes as usize),
        ))
    }
}
