//! The state of one case.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use whistle_schemas::api::{CaseSummary, WhistleView};

/// A whistle case: its state as every service sees it. It is the HTTP view's fields (a case
/// holds nothing a reader may not see), wrapped so that only the rules here make and change
/// one; it is stored as that view's JSON, so records written before this type read back as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Case(pub(crate) WhistleView);

impl std::ops::Deref for Case {
    type Target = WhistleView;
    fn deref(&self) -> &WhistleView {
        &self.0
    }
}

impl Case {
    /// The steps of this type on the timeline.
    pub fn count(&self, kind: &str) -> usize {
        self.timeline.iter().filter(|t| t.kind == kind).count()
    }

    /// Whether an event is already on the timeline.
    pub fn has_event(&self, event_id: Uuid) -> bool {
        self.timeline.iter().any(|t| t.event_id == event_id)
    }

    /// The HTTP view (`GET /api/v1/whistles/{id}`).
    pub fn view(&self) -> WhistleView {
        self.0.clone()
    }

    /// The HTTP view as a reader with `visibility` may see it ([`crate::visibility`]).
    pub fn view_for(&self, visibility: crate::Visibility) -> WhistleView {
        crate::visibility::view(self.view(), visibility)
    }

    /// What boards get: everything but the timeline.
    pub fn summary(&self) -> CaseSummary {
        let pause_reason = if self.paused {
            self.timeline.iter().rev().find(|e| e.kind == "whistle.paused").and_then(|e| e.detail.clone())
        } else {
            None
        };
        CaseSummary {
            id: self.id,
            status: self.status,
            kind: self.kind,
            town: self.town.clone(),
            district: self.district.clone(),
            item: self.item.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            photos: self.photos.clone(),
            attachments: self.attachments.clone(),
            department: self.department.clone(),
            assisting: self.assisting.clone(),
            raised_at: self.raised_at,
            updated_at: self.updated_at,
            deadlines: self.deadlines.clone(),
            overdue: self.overdue.clone(),
            paused: self.paused,
            pause_reason,
            steps: self.timeline.len(),
            last_step: self.timeline.last().cloned(),
            hotline: self.hotline.clone(),
        }
    }
}

impl From<Case> for WhistleView {
    fn from(case: Case) -> WhistleView {
        case.0
    }
}
