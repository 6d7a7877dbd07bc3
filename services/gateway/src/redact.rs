//! Frames as each reader may see them. Stored summaries and events are the whole case's; a
//! reader with [`Visibility::Full`] gets them as stored (no decoding), any other gets them
//! decoded, narrowed by `whistle_case::visibility` (the rules intake's HTTP view follows too)
//! and encoded again. What cannot be decoded is left out rather than sent whole.

use whistle_case::{CaseSummary, Visibility, visibility};
use whistle_casestore::{Channel, Cursor};
use whistle_schemas::events::CaseEvent;
use whistle_schemas::ws::ServerMessage;

/// A stored summary as `visibility` shows it; `None` when it does not decode.
pub fn summary(stored: &str, visibility: Visibility) -> Option<String> {
    if visibility == Visibility::Full {
        return Some(stored.to_owned());
    }
    let summary: CaseSummary = match serde_json::from_str(stored) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "stored case summary does not decode; left out of a narrowed frame");
            return None;
        }
    };
    serde_json::to_string(&visibility::summary(summary, visibility)).ok()
}

/// The `event` frame of a stored entry as `visibility` shows it; `None` when the reader is not
/// sent this entry (a fence warning for a town) or it does not decode.
pub fn event_frame(
    channel: &Channel,
    cursor: Cursor,
    event: &str,
    case: &str,
    visibility: Visibility,
) -> Option<String> {
    let decoded = serde_json::from_str::<CaseEvent>(event).and_then(|e| Ok((e, serde_json::from_str(case)?)));
    let (event, case): (CaseEvent, CaseSummary) = match decoded {
        Ok(parts) => parts,
        Err(err) => {
            tracing::error!(channel = %channel, %cursor, error = %err, "stored stream entry does not decode; not sent");
            return None;
        }
    };
    narrowed(channel.to_string(), cursor.to_string(), event, case, visibility)
}

/// An already rendered `event` frame (as every full reader gets it) as `visibility` shows it.
pub fn rendered_event_frame(text: &str, visibility: Visibility) -> Option<String> {
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Event { channel, cursor, event, case }) => {
            narrowed(channel, cursor, *event, *case, visibility)
        }
        Ok(_) | Err(_) => {
            tracing::error!("not an event frame; not sent");
            None
        }
    }
}

fn narrowed(
    channel: String,
    cursor: String,
    event: CaseEvent,
    case: CaseSummary,
    visibility: Visibility,
) -> Option<String> {
    let event = visibility::event(event, visibility)?;
    let msg = ServerMessage::Event {
        channel,
        cursor,
        event: Box::new(event),
        case: Box::new(visibility::summary(case, visibility)),
    };
    serde_json::to_string(&msg).ok()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;
    use whistle_schemas::Location;
    use whistle_schemas::Status;
    use whistle_schemas::api::TimelineEntry;
    use whistle_schemas::events::{
        Actor, ActorKind, CaseEventBody, EnforcementSubject, FenceSeverity, Fenced, Inspected,
    };

    use super::*;

    const CODE: &str = "91500103MA60XY312F";

    fn summary_with(last: &str, detail: &str) -> String {
        let summary = CaseSummary {
            id: Uuid::now_v7(),
            status: Status::Acknowledged,
            kind: Default::default(),
            town: "500103001".into(),
            district: "500103".into(),
            item: "CQ-ENV-001".into(),
            description: "drums".into(),
            location: Location { lat: 29.5, lon: 106.5, address: "x".into() },
            photos: vec![],
            attachments: vec![],
            department: None,
            assisting: vec![],
            raised_at: Utc::now(),
            updated_at: Utc::now(),
            deadlines: None,
            overdue: vec![],
            paused: false,
            pause_reason: None,
            steps: 5,
            last_step: Some(TimelineEntry {
                event_id: Uuid::now_v7(),
                kind: last.into(),
                status: Status::Acknowledged,
                time: Utc::now(),
                actor: Some(Actor::new(ActorKind::Department, "500103-EE")),
                detail: Some(detail.into()),
            }),
            hotline: None,
        };
        serde_json::to_string(&summary).expect("json")
    }

    fn event(body: CaseEventBody) -> String {
        serde_json::to_string(&CaseEvent::new(Uuid::now_v7(), "/test", Uuid::now_v7(), Utc::now(), body)).expect("json")
    }

    #[test]
    fn full_readers_get_summaries_as_stored_and_towns_without_the_subject() {
        let stored = summary_with("whistle.inspected", &format!("inspected ucc:{CODE}"));
        assert_eq!(summary(&stored, Visibility::Full).as_deref(), Some(stored.as_str()));
        let town = summary(&stored, Visibility::Town).expect("decodes");
        assert!(!town.contains(CODE), "{town}");
        assert!(town.contains("whistle.inspected"), "{town}");
        let fenced = summary(&summary_with("whistle.fenced", "[fine_out_of_range] …"), Visibility::Town).expect("ok");
        assert!(!fenced.contains("last_step"), "{fenced}");
        assert_eq!(summary("{not a summary", Visibility::Town), None, "left out, not sent whole");
    }

    #[test]
    fn towns_are_not_sent_fence_frames_and_get_enforcement_frames_without_the_subject() {
        let channel = Channel::parse("town:500103001").expect("channel");
        let cursor: Cursor = "7-0".parse().expect("cursor");
        let actor = Actor::new(ActorKind::Department, "500103-EE");
        let subject = EnforcementSubject { id: format!("ucc:{CODE}"), credit_code: Some(CODE.into()), address: None };
        let inspected = event(CaseEventBody::Inspected(Inspected {
            actor: actor.clone(),
            subject,
            persuaded: false,
            recheck: false,
            note: None,
        }));
        let case = summary_with("whistle.inspected", &format!("inspected ucc:{CODE}"));
        let frame = event_frame(&channel, cursor, &inspected, &case, Visibility::Town).expect("sent");
        assert!(!frame.contains(CODE), "{frame}");
        let msg: ServerMessage = serde_json::from_str(&frame).expect("a server message");
        assert!(matches!(msg, ServerMessage::Event { ref cursor, .. } if cursor == "7-0"), "{frame}");
        // The same through the full frame the hub renders once.
        let entry = whistle_casestore::StreamEntry { cursor, event: inspected, case: case.clone() };
        let full = crate::hub::render(&channel, &entry);
        assert!(full.contains(CODE));
        assert_eq!(rendered_event_frame(&full, Visibility::Town).as_deref(), Some(frame.as_str()));

        let fenced = event(CaseEventBody::Fenced(Fenced {
            rule: "fine_out_of_range".into(),
            severity: FenceSeverity::Blocked,
            message: "above the range".into(),
            action: "penalty".into(),
            actor,
            flagged: false,
            subject: Some(format!("ucc:{CODE}")),
            override_reason: None,
        }));
        assert_eq!(event_frame(&channel, cursor, &fenced, &case, Visibility::Town), None);
        assert!(event_frame(&channel, cursor, &fenced, &case, Visibility::Full).is_some_and(|f| f.contains(CODE)));
        assert_eq!(event_frame(&channel, cursor, "{", &case, Visibility::Town), None);
    }
}
