//! The state of one case.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use whistle_schemas::api::{CaseSummary, TimelineEntry, WhistleView};
use whistle_schemas::events::{Deadlines, DepartmentRef, SlaStageKind};
use whistle_schemas::{Location, Status};

/// A whistle case. Stored as JSON in the shape of [`WhistleView`], so records written before
/// this type existed read back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: Uuid,
    pub status: Status,
    pub town: String,
    pub district: String,
    pub item: String,
    pub description: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
    /// The responsible (lead) department, once routed.
    pub department: Option<DepartmentRef>,
    /// Assisting departments of a joint case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assisting: Vec<DepartmentRef>,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<Deadlines>,
    /// SLA stages breached and not yet completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<SlaStageKind>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Every step, oldest first; append-only.
    pub timeline: Vec<TimelineEntry>,
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
        WhistleView {
            id: self.id,
            status: self.status,
            town: self.town.clone(),
            district: self.district.clone(),
            item: self.item.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            photos: self.photos.clone(),
            department: self.department.clone(),
            assisting: self.assisting.clone(),
            raised_at: self.raised_at,
            updated_at: self.updated_at,
            deadlines: self.deadlines.clone(),
            overdue: self.overdue.clone(),
            paused: self.paused,
            timeline: self.timeline.clone(),
        }
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
            town: self.town.clone(),
            district: self.district.clone(),
            item: self.item.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            photos: self.photos.clone(),
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
        }
    }
}

impl From<WhistleView> for Case {
    fn from(v: WhistleView) -> Case {
        Case {
            id: v.id,
            status: v.status,
            town: v.town,
            district: v.district,
            item: v.item,
            description: v.description,
            location: v.location,
            photos: v.photos,
            department: v.department,
            assisting: v.assisting,
            raised_at: v.raised_at,
            updated_at: v.updated_at,
            deadlines: v.deadlines,
            overdue: v.overdue,
            paused: v.paused,
            timeline: v.timeline,
        }
    }
}

impl From<&Case> for WhistleView {
    fn from(case: &Case) -> WhistleView {
        case.view()
    }
}
