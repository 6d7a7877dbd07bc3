//! What a case event means for people: which notifications it asks for, to whom, on which
//! channels, saying what. Pure: the rosters, the case's town and the settings are handed in.
//!
//! | event | unit | target |
//! |---|---|---|
//! | `whistle.dispatched` | the department | its duty officer |
//! | `whistle.transferred` | the new owner | its duty officer |
//! | `sla.warning`, `sla.breached` | the owning department | its duty officer |
//! | `whistle.escalated` | the department, or its district's command centre for `command_centre` | the step's target |
//! | `whistle.rejected` | the town that raised it (none for a citizen's report without a town) | its duty officer |
//!
//! Every notification becomes one delivery per channel the person (or the unit's robots) has.
//! A delivery's id is a hash of the event id, the person and the channel, so a replayed event
//! plans the same ids and the store keeps each once.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use whistle_case::{Effect, Enforcement, SlaSignal, effect};
use whistle_schemas::events::{CaseEvent, SlaStageKind};

use crate::roster::{COMMAND_CENTRE, DUTY_OFFICER, Person, Roster, Unit, local_string};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Dispatched,
    Transferred,
    SlaWarning,
    SlaBreached,
    Escalated,
    Rejected,
    /// The raising town reopened a resolved whistle: back to its department.
    Reopened,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Dispatched,
        Kind::Transferred,
        Kind::SlaWarning,
        Kind::SlaBreached,
        Kind::Escalated,
        Kind::Rejected,
        Kind::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dispatched => "dispatched",
            Kind::Transferred => "transferred",
            Kind::SlaWarning => "sla_warning",
            Kind::SlaBreached => "sla_breached",
            Kind::Escalated => "escalated",
            Kind::Rejected => "rejected",
            Kind::Reopened => "reopened",
        }
    }

    /// Breaches and escalations reach people in their quiet hours too.
    pub fn urgent(self) -> bool {
        matches!(self, Kind::SlaBreached | Kind::Escalated)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Wecom,
    Dingtalk,
    Sms,
    /// Nobody could be addressed: recorded dead at once, for an administrator to see.
    None,
}

impl Channel {
    pub const ALL: [Channel; 5] = [Channel::Email, Channel::Wecom, Channel::Dingtalk, Channel::Sms, Channel::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Wecom => "wecom",
            Channel::Dingtalk => "dingtalk",
            Channel::Sms => "sms",
            Channel::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One message to one person on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub event_id: Uuid,
    pub whistle: Uuid,
    pub kind: Kind,
    pub channel: Channel,
    pub unit: String,
    /// The roster person's id (none for an unaddressable notification).
    pub person: Option<String>,
    /// The email address, the robot's webhook URL or the phone number.
    pub address: String,
    /// Who a robot message @-mentions: the person's mobile number and WeCom id.
    pub mention_phone: Option<String>,
    pub mention_wecom: Option<String>,
    pub subject: String,
    pub body: String,
    /// Not sent before this (the end of the person's quiet hours); the event's time otherwise.
    pub not_before: DateTime<Utc>,
    /// Why nobody could be addressed (channel `none` only).
    pub unaddressed: Option<String>,
}

/// `sha256(event id | person | channel)`, hex: the same notification always has the same id.
pub fn delivery_id(event_id: Uuid, person: &str, channel: Channel) -> String {
    let mut h = Sha256::new();
    h.update(event_id.as_bytes());
    h.update(b"|");
    h.update(person.as_bytes());
    h.update(b"|");
    h.update(channel.as_str().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What planning needs besides the event.
pub struct Context<'a> {
    /// The rosters of the units the event concerns (`rosters(unit)`).
    pub roster: &'a (dyn Fn(&Unit) -> Option<Roster> + Sync),
    /// The town that raised the case, if the notifier saw its `whistle.raised`.
    pub town: Option<&'a str>,
    /// The console's base URL, for the case link.
    pub console_url: &'a str,
    /// Whether an SMS gateway is configured.
    pub sms: bool,
}

/// A notification before it is split by channel.
struct Notice {
    kind: Kind,
    unit: String,
    target: String,
    subject: String,
    lines: Vec<String>,
}

fn stage_zh(stage: SlaStageKind) -> &'static str {
    match stage {
        SlaStageKind::Acknowledge => "签收",
        SlaStageKind::Arrive => "到场",
        SlaStageKind::Resolve => "办结",
        SlaStageKind::Decide => "作出处罚决定（法定期限）",
    }
}

/// The notifications an event asks for (none for most events).
fn notices(event: &CaseEvent, town: Option<&str>) -> Vec<Notice> {
    let id = event.subject;
    let notice = |kind, unit: &str, target: &str, subject: String, lines: Vec<String>| Notice {
        kind,
        unit: unit.to_owned(),
        target: target.to_owned(),
        subject,
        lines,
    };
    match effect(&event.body) {
        Effect::Routed(d) => vec![notice(
            Kind::Dispatched,
            &d.department.code,
            DUTY_OFFICER,
            format!("【吹哨报到】新派单：{} 请及时签收", d.item),
            vec![
                format!("{}收到一件新案件，事项 {}。", d.department.names.zh, d.item),
                format!("派单依据：{}", d.basis),
            ],
        )],
        Effect::Transferred(t) => vec![notice(
            Kind::Transferred,
            &t.to.code,
            DUTY_OFFICER,
            "【吹哨报到】案件移交给本单位，请及时签收".to_owned(),
            vec![format!("案件已移交给{}。", t.to.names.zh), format!("移交原因：{}", t.reason)],
        )],
        Effect::Sla(SlaSignal::Warning(s)) => vec![notice(
            Kind::SlaWarning,
            &s.department,
            DUTY_OFFICER,
            format!("【吹哨报到】即将超时：{}期限 {}", stage_zh(s.stage), local_string(s.deadline)),
            vec![format!("案件的{}期限是 {}（北京时间），请尽快处理。", stage_zh(s.stage), local_string(s.deadline))],
        )],
        Effect::Sla(SlaSignal::Breached(s)) => vec![notice(
            Kind::SlaBreached,
            &s.department,
            DUTY_OFFICER,
            format!("【吹哨报到】已超时：{}期限 {} 已过", stage_zh(s.stage), local_string(s.deadline)),
            vec![format!(
                "案件的{}期限 {}（北京时间）已过，将按规定逐级升级。",
                stage_zh(s.stage),
                local_string(s.deadline)
            )],
        )],
        Effect::Sla(SlaSignal::Escalated(e)) => {
            let (unit, target) = if e.to == COMMAND_CENTRE {
                (format!("{}-CC", e.district), DUTY_OFFICER)
            } else {
                (e.department.clone(), e.to.as_str())
            };
            vec![notice(
                Kind::Escalated,
                &unit,
                target,
                format!("【吹哨报到】升级（第{}级）：案件{}超时", e.level, stage_zh(e.stage)),
                vec![format!(
                    "{} 的案件{}超时，已升级至第{}级（{}），请督办。",
                    e.department,
                    stage_zh(e.stage),
                    e.level,
                    e.to
                )],
            )]
        }
        Effect::Rejected(r) => match town {
            // A citizen's report with no town (Open311, the 12345 hotline): the command centre
            // that raised it is the one rejecting or re-triaging it; no town is there to tell.
            Some("") => vec![],
            Some(town) => vec![notice(
                Kind::Rejected,
                town,
                DUTY_OFFICER,
                "【吹哨报到】案件被退回".to_owned(),
                vec![format!("您镇街上报的案件被退回。原因：{}", r.reason)],
            )],
            None => {
                tracing::warn!(whistle = %id, "a rejected case whose raise this notifier never saw: the town is not told");
                vec![]
            }
        },
        Effect::Reopened(r) => vec![notice(
            Kind::Reopened,
            &r.department.code,
            DUTY_OFFICER,
            format!("【吹哨报到】镇街重新打开案件：{}", r.item),
            vec![
                format!("{} 认为问题未解决，已将案件退回本单位重新办理。", r.actor.code),
                format!("原因：{}", r.reason),
            ],
        )],
        Effect::Raised(_)
        | Effect::Registered(_)
        | Effect::Confirmed(_)
        | Effect::Progressed(_)
        | Effect::Resolved(_)
        // A merge: the department did it; the towns read it on their timelines.
        | Effect::Merged(_)
        | Effect::Absorbed(_)
        | Effect::Paused(_)
        | Effect::Resumed
        | Effect::Sla(SlaSignal::Scheduled(_))
        | Effect::Enforcement(
            Enforcement::Inspected(_) | Enforcement::Penalised(_) | Enforcement::Fenced(_) | Enforcement::Decided(_),
        )
        | Effect::Step => vec![],
    }
}

/// The units whose rosters planning `event` needs.
pub fn units(event: &CaseEvent, town: Option<&str>) -> Vec<String> {
    notices(event, town).into_iter().map(|n| n.unit).collect()
}

/// The deliveries `event` asks for.
pub fn plan(event: &CaseEvent, cx: &Context<'_>) -> Vec<Delivery> {
    let mut out = Vec::new();
    for n in notices(event, cx.town) {
        let link = match Unit::parse(&n.unit).map(|u| u.kind()) {
            Ok(crate::roster::UnitKind::Town) => format!("{}/#/town?town={}", cx.console_url, n.unit),
            _ => format!("{}/#/board?dept={}", cx.console_url, n.unit),
        };
        let unaddressed = |reason: String| Delivery {
            id: delivery_id(event.id, &format!("{}:{}", n.unit, n.target), Channel::None),
            event_id: event.id,
            whistle: event.subject,
            kind: n.kind,
            channel: Channel::None,
            unit: n.unit.clone(),
            person: None,
            address: String::new(),
            mention_phone: None,
            mention_wecom: None,
            subject: n.subject.clone(),
            body: String::new(),
            not_before: event.time,
            unaddressed: Some(reason),
        };
        let roster = match Unit::parse(&n.unit) {
            Ok(unit) => (cx.roster)(&unit),
            Err(_) => None,
        };
        let Some(roster) = roster else {
            out.push(unaddressed(format!("no roster for {}", n.unit)));
            continue;
        };
        let Some(person) = roster.resolve(&n.target, event.time) else {
            let reason = if n.target == DUTY_OFFICER {
                format!("nobody on duty at {} in {}'s rota", local_string(event.time), n.unit)
            } else {
                format!("{}'s roster has no {}", n.unit, n.target)
            };
            out.push(unaddressed(reason));
            continue;
        };
        let body = message_body(person, &n, event, &link);
        let not_before = match person.quiet_until(event.time) {
            Some(end) if !n.kind.urgent() => end,
            _ => event.time,
        };
        let mut planned = Vec::new();
        let mut add = |channel: Channel, address: &str| {
            planned.push(Delivery {
                id: delivery_id(event.id, &format!("{}:{}", n.unit, person.id), channel),
                event_id: event.id,
                whistle: event.subject,
                kind: n.kind,
                channel,
                unit: n.unit.clone(),
                person: Some(person.id.clone()),
                address: address.to_owned(),
                mention_phone: person.phone.clone(),
                mention_wecom: person.wecom_id.clone(),
                subject: n.subject.clone(),
                body: body.clone(),
                not_before,
                unaddressed: None,
            })
        };
        if let Some(email) = &person.email {
            add(Channel::Email, email);
        }
        if let Some(url) = &roster.wecom {
            add(Channel::Wecom, url);
        }
        if let Some(url) = &roster.dingtalk {
            add(Channel::Dingtalk, url);
        }
        if cx.sms
            && let Some(phone) = &person.phone
        {
            add(Channel::Sms, phone);
        }
        if planned.is_empty() {
            planned.push(unaddressed(format!("{} ({}) has no email, phone or unit robot", person.name, person.id)));
        }
        out.extend(planned);
    }
    out
}

fn message_body(person: &Person, n: &Notice, event: &CaseEvent, link: &str) -> String {
    let mut body = format!("{}您好：\n\n", person.name);
    for line in &n.lines {
        body.push_str(line);
        body.push('\n');
    }
    body.push_str(&format!(
        "\n案件编号：{}\n时间：{}（北京时间）\n查看案件：{}\n\n—— 吹哨报到平台（此邮件由系统发出，请勿回复）\n",
        event.subject,
        local_string(event.time),
        link
    ));
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(ty: &str, data: serde_json::Value, time: &str) -> CaseEvent {
        serde_json::from_value(json!({
            "specversion": "1.0", "id": Uuid::new_v4(), "source": "/test", "subject": Uuid::new_v4(),
            "time": time, "datacontenttype": "application/json", "type": ty, "data": data
        }))
        .unwrap()
    }

    fn roster(unit: &str) -> Roster {
        let wire = serde_json::from_value(json!({
            "people": [
                {"id": "duty", "name": "王值班", "email": "duty@example.cn", "phone": "13800000001",
                 "quiet_hours": {"start": "22:00", "end": "07:00"}},
                {"id": "head", "name": "张局长", "email": "head@example.cn"}
            ],
            "shifts": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "00:00", "end": "00:00", "person": "duty"}],
            "roles": {"department_head": "head"},
            "robots": {"wecom": "http://127.0.0.1:1/wecom"}
        }))
        .unwrap();
        Roster::parse(unit, &wire).unwrap()
    }

    fn cx<'a>(lookup: &'a (dyn Fn(&Unit) -> Option<Roster> + Sync)) -> Context<'a> {
        Context { roster: lookup, town: Some("500103001"), console_url: "http://console", sms: false }
    }

    fn escalated(level: u32, to: &str, time: &str) -> CaseEvent {
        event(
            "whistle.escalated",
            json!({"stage": "acknowledge", "level": level, "to": to, "department": "500103-EE", "district": "500103"}),
            time,
        )
    }

    #[test]
    fn escalation_levels_reach_the_duty_officer_then_the_head_then_the_command_centre() {
        let lookup = |u: &Unit| Some(roster(u.as_str()));
        let one = plan(&escalated(1, "duty_officer", "2026-11-25T10:00:00+08:00"), &cx(&lookup));
        let two = plan(&escalated(2, "department_head", "2026-11-25T10:15:00+08:00"), &cx(&lookup));
        let three = plan(&escalated(3, "command_centre", "2026-11-25T10:30:00+08:00"), &cx(&lookup));
        let emails = |d: &[Delivery]| {
            d.iter()
                .filter(|d| d.channel == Channel::Email)
                .map(|d| (d.unit.clone(), d.address.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(emails(&one), [("500103-EE".to_owned(), "duty@example.cn".to_owned())]);
        assert_eq!(emails(&two), [("500103-EE".to_owned(), "head@example.cn".to_owned())]);
        assert_eq!(emails(&three), [("500103-CC".to_owned(), "duty@example.cn".to_owned())]);
        assert!(one.iter().any(|d| d.channel == Channel::Wecom), "the unit's WeCom robot too");
        assert!(two[0].subject.contains("第2级"), "{}", two[0].subject);
    }

    #[test]
    fn a_replayed_event_plans_the_same_delivery_ids() {
        let lookup = |u: &Unit| Some(roster(u.as_str()));
        let e = escalated(1, "duty_officer", "2026-11-25T10:00:00+08:00");
        let ids = |d: Vec<Delivery>| d.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(plan(&e, &cx(&lookup))), ids(plan(&e, &cx(&lookup))));
        let other = escalated(1, "duty_officer", "2026-11-25T10:00:00+08:00");
        assert_ne!(ids(plan(&e, &cx(&lookup))), ids(plan(&other, &cx(&lookup))));
    }

    #[test]
    fn quiet_hours_delay_a_warning_but_never_a_breach() {
        let lookup = |u: &Unit| Some(roster(u.as_str()));
        let stage = json!({"stage": "acknowledge", "deadline": "2026-11-25T23:30:00+08:00", "department": "500103-EE", "district": "500103"});
        let warning = plan(&event("sla.warning", stage.clone(), "2026-11-25T23:00:00+08:00"), &cx(&lookup));
        let breach = plan(&event("sla.breached", stage, "2026-11-25T23:30:00+08:00"), &cx(&lookup));
        let email = |d: &[Delivery]| d.iter().find(|d| d.channel == Channel::Email).unwrap().not_before;
        assert_eq!(email(&warning), DateTime::parse_from_rfc3339("2026-11-26T07:00:00+08:00").unwrap());
        assert_eq!(email(&breach), DateTime::parse_from_rfc3339("2026-11-25T23:30:00+08:00").unwrap());
    }

    #[test]
    fn a_unit_without_a_roster_is_recorded_as_unaddressed_not_dropped() {
        let lookup = |_: &Unit| None;
        let d = plan(&escalated(1, "duty_officer", "2026-11-25T10:00:00+08:00"), &cx(&lookup));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].channel, Channel::None);
        assert_eq!(d[0].unaddressed.as_deref(), Some("no roster for 500103-EE"));
    }

    #[test]
    fn a_rejection_tells_the_town_with_the_reason_and_a_link() {
        let lookup = |u: &Unit| Some(roster(u.as_str()));
        let e = event(
            "whistle.rejected",
            json!({"actor": {"kind": "department", "code": "500103-EE"}, "reason": "不属于本部门职责"}),
            "2026-11-25T10:00:00+08:00",
        );
        let d = plan(&e, &cx(&lookup));
        let email = d.iter().find(|d| d.channel == Channel::Email).unwrap();
        assert_eq!(email.unit, "500103001");
        assert!(email.body.contains("不属于本部门职责") && email.body.contains("http://console/#/town?town=500103001"));
    }

    #[test]
    fn a_rejected_report_without_a_town_tells_no_town() {
        let lookup = |u: &Unit| Some(roster(u.as_str()));
        let e = event(
            "whistle.rejected",
            json!({"actor": {"kind": "department", "code": "500103-CC"}, "reason": "重复工单"}),
            "2026-11-25T10:00:00+08:00",
        );
        let cx = Context { roster: &lookup, town: Some(""), console_url: "http://console", sms: false };
        assert_eq!(plan(&e, &cx), vec![], "no delivery to an empty unit (it would be unaddressed)");
    }
}
