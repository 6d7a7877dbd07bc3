//! The HTTP contract as an OpenAPI 3.1 document, made from the same Rust types as the JSON
//! Schemas: every route behind the ingress (intake, registry, SLA, notify), its parameters, bodies,
//! answers and errors, and the bearer-token scheme. Intake serves it at
//! `GET /api/v1/openapi.json`; `cargo xtask schemas` writes it to `schemas/openapi.json`, and
//! tests fail when either drifts from the code (a route without an operation here, or a stale
//! file).

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::{accounts, api, assist, notify, registry};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy)]
enum In {
    Path,
    Query,
}

/// One operation: what the document says about a route and method.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    /// `false` only for login and this document.
    auth: bool,
    params: &'static [(&'static str, In, &'static str)],
    body: Option<Value>,
    ok: (u16, Option<Value>),
    errors: &'static [u16],
    idempotent: bool,
}

/// The ledger's filters: the list and its exports take the same.
const LEDGER_FILTERS: &[(&str, In, &str)] = &[
    ("status", In::Query, "One status or several, comma-separated."),
    ("kind", In::Query, "`/api/v1/cases` only: `whistle` or another kind of case."),
    ("district", In::Query, "A 6-digit district code."),
    ("town", In::Query, "A town code."),
    ("department", In::Query, "The lead department's code, e.g. `500103-UM`."),
    ("item", In::Query, "An item code."),
    ("authority", In::Query, "statutory | empowered | delegated | department"),
    ("overdue", In::Query, "true: open and past a deadline now."),
    ("breached", In::Query, "true: some SLA stage was breached."),
    ("reopened", In::Query, "true: closed once and opened again."),
    ("from", In::Query, "Raised at or after (RFC 3339, or a date in China time)."),
    ("to", In::Query, "Raised before."),
    ("resolved_from", In::Query, "Resolved at or after."),
    ("resolved_to", In::Query, "Resolved before."),
    ("q", In::Query, "A substring of the description or the address (Chinese works)."),
    ("sort", In::Query, "-raised_at (default) | raised_at | -updated_at | updated_at"),
    ("limit", In::Query, "Rows per page, 1–500 (50); not for exports."),
    ("cursor", In::Query, "`next_cursor` of the page before; not for exports."),
];

/// Errors every authenticated operation can answer.
const BASE: &[u16] = &[400, 401, 403, 429, 503];
const READ: &[u16] = &[400, 401, 403, 404, 429, 503];
const ACTION: &[u16] = &[400, 401, 403, 404, 409, 413, 422, 429, 503];

fn describe(status: u16) -> &'static str {
    match status {
        400 => {
            "malformed_body | malformed_query | malformed_request | invalid_field | target_not_allowed | \
             oidc_flow_invalid"
        }
        401 => {
            "unauthenticated | invalid_token | token_expired | token_revoked | invalid_credentials | account_disabled | \
             oidc_token_invalid"
        }
        403 => "forbidden: outside the account's role or scope | oidc_no_account | oidc_account_disabled",
        404 => "not_found | oidc_not_configured",
        409 => {
            "invalid_transition | action_in_progress | overlapping_range | case_limit_reached | account_exists | \
             account_read_only | own_account | webhook_limit_reached"
        }
        413 => "body_too_large (an upload past its kind's limit too)",
        415 => "unsupported_media_type: by its bytes, not a JPEG, PNG, WebP or MP4 (or a broken one)",
        422 => {
            "unknown_town | unknown_item | town_holds_item | town_lacks_authority | idempotency_key_reused | \
             override_reason_required | outside_statutory_range | two_officers_required | officer_not_certified | \
             nothing_to_review | invalid_csv | wrong_password | invalid_period | period_too_large | unknown_attachment"
        }
        429 => "rate_limited (with Retry-After)",
        502 => "oidc_provider_unavailable: the identity provider did not answer or refused Whistle; a retry may help",
        503 => {
            "unavailable: Kafka or Redis is down or full; nothing was recorded, retry (Retry-After) | overloaded: \
             more requests in flight than the service takes at once (intake's limits.max_in_flight); nothing was \
             read or recorded, retry (Retry-After: 1)"
        }
        _ => "error",
    }
}

fn ops(g: &mut SchemaGenerator) -> Vec<Op> {
    let mut schema = |f: fn(&mut SchemaGenerator) -> schemars::Schema| Some(f(g).to_value());
    fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<T>()
    }
    let id = &[("id", In::Path, "The whistle id (UUID).")][..];
    let code = &[("code", In::Path, "The item code, e.g. `CQ-ENV-001`.")][..];
    let district_q = &[("district", In::Query, "A 6-digit district (or functional zone) code.")][..];
    let action = |op_id, summary, body: Option<Value>, ok: Option<Value>| Op {
        method: "post",
        path: "",
        id: op_id,
        tag: "whistles",
        summary,
        auth: true,
        params: &[("id", In::Path, "The whistle id (UUID).")],
        body,
        ok: (202, ok),
        errors: ACTION,
        idempotent: true,
    };
    let accepted = schema(s::<api::ActionAccepted>);
    let enforcement = schema(s::<assist::EnforcementAccepted>);
    let csv = Some(json!({"type": "string", "contentMediaType": "text/csv"}));
    let xlsx = Some(json!({
        "type": "string",
        "contentMediaType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    }));
    let ledger_list = |path, id, summary, ok| Op {
        method: "get",
        path,
        id,
        tag: "ledger",
        summary,
        auth: true,
        params: LEDGER_FILTERS,
        body: None,
        ok: (200, ok),
        errors: BASE,
        idempotent: false,
    };
    let (change, detail) = (schema(s::<registry::HolderChangeRequest>), schema(s::<registry::ItemDetail>));
    let holder_change = |path, id, summary| Op {
        method: "post",
        path,
        id,
        tag: "registry",
        summary,
        auth: true,
        params: &[("code", In::Path, "The item code, e.g. `CQ-ENV-001`.")],
        body: change.clone(),
        ok: (200, detail.clone()),
        errors: ACTION,
        idempotent: false,
    };
    let with = |mut op: Op, path: &'static str| {
        op.path = path;
        op
    };
    let record = schema(s::<accounts::AccountRecord>);
    let username = &[("username", In::Path, "The account's name.")][..];
    let webhook_id = &[("id", In::Path, "The subscription id (UUID).")][..];
    let unit =
        &[("unit", In::Path, "A department (500103-EE), command centre (500103-CC) or town (500103001) code.")][..];
    let account_change = |path, id, summary, body: Option<Value>| Op {
        method: "post",
        path,
        id,
        tag: "accounts",
        summary,
        auth: true,
        params: username,
        body,
        ok: (200, record.clone()),
        errors: &[400, 401, 403, 404, 409, 413, 429, 503],
        idempotent: false,
    };
    let mut ops = vec![
        Op {
            method: "post",
            path: "/api/v1/auth/login",
            id: "login",
            tag: "auth",
            summary: "Log in: a bearer token for every other request",
            auth: false,
            params: &[],
            body: schema(s::<api::LoginRequest>),
            ok: (200, schema(s::<api::LoginResponse>)),
            errors: &[400, 401, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/auth/config",
            id: "authConfig",
            tag: "auth",
            summary: "How to log in here: password always; single sign-on (OIDC) when configured, with its \
                      login URL and button label",
            auth: false,
            params: &[],
            body: None,
            ok: (200, schema(s::<api::AuthConfig>)),
            errors: &[429],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/auth/oidc/login",
            id: "oidcLogin",
            tag: "auth",
            summary: "Single sign-on, step 1 (a browser navigation): 302 to the identity provider's \
                      authorization endpoint (code flow, PKCE S256, state, nonce), with a 10-minute HttpOnly \
                      flow cookie",
            auth: false,
            params: &[(
                "return_to",
                In::Query,
                "A path on this site (the console's, default `/`) the browser comes back to; never another origin.",
            )],
            body: None,
            ok: (302, None),
            errors: &[400, 404, 429, 502],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/auth/oidc/callback",
            id: "oidcCallback",
            tag: "auth",
            summary: "Single sign-on, step 2 (the provider's redirect): checks the flow cookie and state, \
                      exchanges the code, verifies the id_token and logs the existing Whistle account of its \
                      username claim in; 303 to `return_to#/login?sso_token=…&expires_at=…` (the token only \
                      in the fragment). Errors are JSON, or for a browser (Accept: text/html) a 303 to \
                      `return_to#/login?sso_error=<code>`",
            auth: false,
            params: &[
                ("code", In::Query, "The provider's authorization code."),
                ("state", In::Query, "The state the login sent; must be the flow cookie's."),
                ("error", In::Query, "The provider's refusal (e.g. access_denied), instead of a code."),
                ("error_description", In::Query, "The provider's words on its refusal."),
            ],
            body: None,
            ok: (303, None),
            errors: &[400, 401, 403, 404, 429, 502, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/auth/me",
            id: "me",
            tag: "auth",
            summary: "The account behind the token",
            auth: true,
            params: &[],
            body: None,
            ok: (200, schema(s::<api::AccountView>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/auth/logout",
            id: "logout",
            tag: "auth",
            summary: "Log out: the token is revoked everywhere until it would have expired (204)",
            auth: true,
            params: &[],
            body: None,
            ok: (204, None),
            errors: &[401, 429, 503],
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/auth/password",
            id: "changePassword",
            tag: "auth",
            summary: "Change the logged-in account's password (account store accounts); every token of the \
                      account is revoked and a fresh one answered",
            auth: true,
            params: &[],
            body: schema(s::<accounts::ChangePasswordRequest>),
            ok: (200, schema(s::<api::LoginResponse>)),
            errors: &[400, 401, 409, 413, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/accounts",
            id: "accounts",
            tag: "accounts",
            summary: "The account store's accounts (admin)",
            auth: true,
            params: &[],
            body: None,
            ok: (200, schema(s::<accounts::AccountList>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/accounts",
            id: "createAccount",
            tag: "accounts",
            summary: "Create an account with a role, its scope and an initial password (admin); 201",
            auth: true,
            params: &[],
            body: schema(s::<accounts::CreateAccountRequest>),
            ok: (201, record.clone()),
            errors: &[400, 401, 403, 409, 413, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/accounts/audit",
            id: "accountAudit",
            tag: "accounts",
            summary: "Every change to the accounts, newest first: who, when, what (admin)",
            auth: true,
            params: &[
                ("username", In::Query, "Only this account's changes."),
                ("before", In::Query, "Entries older than this id (the previous page's next_before)."),
                ("limit", In::Query, "Entries at most, 1 to 500 (100)."),
            ],
            body: None,
            ok: (200, schema(s::<accounts::AccountAudit>)),
            errors: BASE,
            idempotent: false,
        },
        account_change(
            "/api/v1/accounts/{username}/disable",
            "disableAccount",
            "Disable an account: it cannot log in and its tokens are revoked (admin)",
            None,
        ),
        account_change("/api/v1/accounts/{username}/enable", "enableAccount", "Enable an account (admin)", None),
        account_change(
            "/api/v1/accounts/{username}/password",
            "resetPassword",
            "Set a new password; the account's tokens are revoked (admin)",
            schema(s::<accounts::ResetPasswordRequest>),
        ),
        account_change(
            "/api/v1/accounts/{username}/role",
            "assignRole",
            "Assign a role and scope; the account's tokens are revoked (admin)",
            schema(s::<accounts::AccountScope>),
        ),
        Op {
            method: "get",
            path: "/api/v1/openapi.json",
            id: "openapi",
            tag: "meta",
            summary: "This document",
            auth: false,
            params: &[],
            body: None,
            ok: (200, Some(json!({"type": "object"}))),
            errors: &[],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/towns",
            id: "towns",
            tag: "registry",
            summary: "Towns with code, names (zh/en), kind and district",
            auth: true,
            params: district_q,
            body: None,
            ok: (200, schema(s::<api::TownList>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/route",
            id: "route",
            tag: "registry",
            summary: "Where a whistle for a town and an item would go",
            auth: true,
            params: &[
                ("town", In::Query, "The town code."),
                ("item", In::Query, "The item code."),
                ("at", In::Query, "RFC 3339 time; now when absent."),
            ],
            body: None,
            ok: (200, schema(s::<api::RouteView>)),
            errors: &[400, 401, 403, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/assist/suggest",
            id: "suggest",
            tag: "assist",
            summary: "Likeliest enforcement items for a description",
            auth: true,
            params: &[("text", In::Query, "The description."), ("limit", In::Query, "How many, at most.")],
            body: None,
            ok: (200, schema(s::<assist::SuggestResponse>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/assist/suggest",
            id: "suggestBody",
            tag: "assist",
            summary: "Likeliest enforcement items for a description (long text in the body)",
            auth: true,
            params: &[],
            body: Some(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
                "required": ["text"],
                "additionalProperties": false
            })),
            ok: (200, schema(s::<assist::SuggestResponse>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/assist/benchmark",
            id: "benchmark",
            tag: "assist",
            summary: "Discretion tier and fine range for an item, the facts and the subject's history",
            auth: true,
            params: &[],
            body: schema(s::<assist::BenchmarkRequest>),
            ok: (200, schema(s::<assist::BenchmarkView>)),
            errors: &[400, 401, 403, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/whistles",
            id: "raise",
            tag: "whistles",
            summary: "Raise a whistle; 202 once Kafka has it, with possible_duplicates (open whistles of the item \
                      nearby)",
            auth: true,
            params: &[],
            body: schema(s::<api::RaiseWhistleRequest>),
            ok: (202, schema(s::<api::WhistleAccepted>)),
            errors: &[400, 401, 403, 413, 422, 429, 503],
            idempotent: true,
        },
        Op {
            method: "post",
            path: "/api/v1/hotline/orders",
            id: "importHotlineOrders",
            tag: "whistles",
            summary: "Import 12345 hotline work orders (a district's command centre; CSV with English or the \
                      hotline's Chinese headers, or JSON): each row raised once by its order number, or refused \
                      with its column; ?dry_run=true checks only",
            auth: true,
            params: &[("dry_run", In::Query, "true: check every row, raise nothing.")],
            body: Some(json!({"x-media": {
                "application/json": schema(s::<api::HotlineImportRequest>),
                "text/csv": {"type": "string", "description": "A header row (order_no, received_at, item, town, \
                    lat, lon, datum, address, description, caller_name, caller_phone, or 工单编号, 受理时间, 事项编码, \
                    街镇编码, 纬度, 经度, 坐标系, 地址, 诉求内容, 来电人, 来电号码), then one order a line"},
            }})),
            ok: (200, schema(s::<api::HotlineImportReport>)),
            errors: &[400, 401, 403, 413, 415, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/whistles/duplicates",
            id: "duplicates",
            tag: "whistles",
            summary: "Open whistles a raise of the item at this point would likely duplicate (same district, the \
                      item's radius, the last 24 h), before it is sent",
            auth: true,
            params: &[
                ("item", In::Query, "The item code."),
                ("lat", In::Query, "WGS-84 latitude."),
                ("lon", In::Query, "WGS-84 longitude."),
                ("district", In::Query, "For the city's accounts only: the district to search."),
            ],
            body: None,
            ok: (200, schema(s::<api::DuplicateList>)),
            errors: &[400, 401, 403, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/whistles/{id}",
            id: "whistle",
            tag: "whistles",
            summary: "A whistle's status, department and timeline",
            auth: true,
            params: id,
            body: None,
            ok: (200, schema(s::<api::WhistleView>)),
            errors: READ,
            idempotent: false,
        },
        with(
            action("acknowledge", "The department acknowledges", None, accepted.clone()),
            "/api/v1/whistles/{id}/acknowledge",
        ),
        with(action("arrive", "The department is on site", None, accepted.clone()), "/api/v1/whistles/{id}/arrive"),
        with(
            action(
                "resolve",
                "The department resolves, with an optional note",
                schema(s::<api::ResolveRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/resolve",
        ),
        with(
            action(
                "reject",
                "The department returns the whistle, with a reason",
                schema(s::<api::RejectRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/reject",
        ),
        with(
            action(
                "transfer",
                "Hand the case to another department of the district; ownership and clocks move",
                schema(s::<api::TransferRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/transfer",
        ),
        with(
            action("pause", "Stop the SLA clocks, with a reason", schema(s::<api::PauseRequest>), accepted.clone()),
            "/api/v1/whistles/{id}/pause",
        ),
        with(action("resume", "Restart the SLA clocks", None, accepted.clone()), "/api/v1/whistles/{id}/resume"),
        with(
            action(
                "merge",
                "Merge a duplicate into another open whistle of the district: it is merged, its clocks stop, it \
                 leaves the boards; its town follows the surviving case",
                schema(s::<api::MergeRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/merge",
        ),
        with(
            action(
                "inspect",
                "Record an inspection; fences answer with warnings",
                schema(s::<assist::InspectRequest>),
                enforcement.clone(),
            ),
            "/api/v1/whistles/{id}/inspect",
        ),
        with(
            action(
                "penalty",
                "Record a penalty; a fence needs override_reason (422 override_reason_required)",
                schema(s::<assist::PenaltyRequest>),
                enforcement,
            ),
            "/api/v1/whistles/{id}/penalty",
        ),
        with(
            action(
                "confirm",
                "The raising town confirms a resolved whistle, with a 1-5 rating",
                schema(s::<api::ConfirmRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/confirm",
        ),
        with(
            action(
                "reopen",
                "The raising town reopens a resolved whistle: back to its department, clocks afresh",
                schema(s::<api::ReopenRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/reopen",
        ),
        with(
            action(
                "commentWhistle",
                "A comment between the town and the departments, on both boards",
                schema(s::<api::CommentRequest>),
                accepted.clone(),
            ),
            "/api/v1/whistles/{id}/comments",
        ),
        Op {
            method: "post",
            path: "/api/v1/cases",
            id: "openCase",
            tag: "cases",
            summary: "A town opens its own enforcement case for an item it holds (422 town_lacks_authority otherwise)",
            auth: true,
            params: &[],
            body: schema(s::<api::OpenCaseRequest>),
            ok: (202, schema(s::<api::CaseAccepted>)),
            errors: &[400, 401, 403, 413, 422, 429, 503],
            idempotent: true,
        },
        Op {
            method: "get",
            path: "/api/v1/cases/{id}",
            id: "case",
            tag: "cases",
            summary: "A case with its party, the benchmark its decision was measured against, and its fences",
            auth: true,
            params: id,
            body: None,
            ok: (200, schema(s::<api::CaseView>)),
            errors: READ,
            idempotent: false,
        },
        with(
            Op {
                tag: "cases",
                ..action(
                    "persuade",
                    "劝导: persuasion, with its outcome",
                    schema(s::<api::PersuadeRequest>),
                    accepted.clone(),
                )
            },
            "/api/v1/cases/{id}/persuade",
        ),
        with(
            Op {
                tag: "cases",
                ..action(
                    "investigate",
                    "调查取证: evidence by at least two certified officers of the town",
                    schema(s::<api::InvestigateRequest>),
                    accepted.clone(),
                )
            },
            "/api/v1/cases/{id}/investigate",
        ),
        with(
            Op {
                tag: "cases",
                ..action(
                    "notify",
                    "告知: the intended decision, and the right to a defence or hearing",
                    schema(s::<api::NotifyRequest>),
                    accepted.clone(),
                )
            },
            "/api/v1/cases/{id}/notify",
        ),
        with(
            Op {
                tag: "cases",
                ..action(
                    "decide",
                    "决定: 422 outside_statutory_range (never overridable) or override_reason_required",
                    schema(s::<api::DecideRequest>),
                    accepted.clone(),
                )
            },
            "/api/v1/cases/{id}/decide",
        ),
        with(
            Op {
                tag: "cases",
                ..action("serve", "送达: the decision was served", schema(s::<api::StepNote>), accepted.clone())
            },
            "/api/v1/cases/{id}/serve",
        ),
        with(
            Op {
                tag: "cases",
                ..action("close", "结案: close the case", schema(s::<api::StepNote>), accepted.clone())
            },
            "/api/v1/cases/{id}/close",
        ),
        with(
            Op {
                tag: "cases",
                ..action(
                    "commentCase",
                    "A comment on the case's timeline",
                    schema(s::<api::CommentRequest>),
                    accepted.clone(),
                )
            },
            "/api/v1/cases/{id}/comments",
        ),
        Op {
            method: "post",
            path: "/api/v1/attachments",
            id: "uploadAttachment",
            tag: "attachments",
            summary: "Upload one photo or video as evidence (towns, departments, command centres); its type is read \
                      from its bytes, its metadata (EXIF GPS, XMP, camera) stripped before it is stored",
            auth: true,
            params: &[],
            body: Some(json!({
                "type": "object",
                "contentMediaType": "multipart/form-data",
                "required": ["file"],
                "properties": {"file": {
                    "type": "string",
                    "contentMediaType": "application/octet-stream",
                    "description": "JPEG, PNG or WebP up to 10 MiB, MP4 up to 50 MiB (attachments.max_image_bytes, \
                                    max_video_bytes); the part's content type and file name are not used"
                }}
            })),
            ok: (201, schema(s::<api::AttachmentUploaded>)),
            errors: &[400, 401, 403, 413, 415, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/attachments/{id}",
            id: "attachment",
            tag: "attachments",
            summary: "An attachment's stored bytes (with its content type, nosniff); for its uploader's body and the \
                      readers of a case that references it, 403 for everyone else, 404 for an unknown id",
            auth: true,
            params: &[("id", In::Path, "The attachment id (UUID).")],
            body: None,
            ok: (200, Some(json!({"type": "string", "contentMediaType": "application/octet-stream"}))),
            errors: &[401, 403, 404, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/supervision/queue",
            id: "supervisionQueue",
            tag: "supervision",
            summary: "Overrides, fence warnings passed over, and town cases near or past their 90-day limit",
            auth: true,
            params: &[],
            body: None,
            ok: (200, schema(s::<api::SupervisionQueue>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/supervision/{item_id}/review",
            id: "review",
            tag: "supervision",
            summary: "A supervisor's verdict (upheld / corrected) on a queued item, on the case's timeline",
            auth: true,
            params: &[("item_id", In::Path, "A queue item's id (`<case>~<step>`).")],
            body: schema(s::<api::ReviewRequest>),
            ok: (202, accepted.clone()),
            errors: ACTION,
            idempotent: true,
        },
        Op {
            method: "get",
            path: "/api/v1/registry/items",
            id: "items",
            tag: "registry",
            summary: "Items with code, names, authority and holder now",
            auth: true,
            params: district_q,
            body: None,
            ok: (200, schema(s::<api::ItemList>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/registry/items/{code}",
            id: "item",
            tag: "registry",
            summary: "An item with its full holder history, version and audit",
            auth: true,
            params: code,
            body: None,
            ok: (200, schema(s::<registry::ItemDetail>)),
            errors: READ,
            idempotent: false,
        },
        holder_change(
            "/api/v1/registry/items/{code}/delegate",
            "delegate",
            "Delegate an item to the towns from a date (admin)",
        ),
        holder_change(
            "/api/v1/registry/items/{code}/recover",
            "recover",
            "Recover an item to a district department from a date (admin)",
        ),
        holder_change(
            "/api/v1/registry/items/{code}/holder",
            "changeHolder",
            "Change an item's holder from a date (admin)",
        ),
        Op {
            method: "get",
            path: "/api/v1/registry/export",
            id: "exportRegistry",
            tag: "registry",
            summary: "The catalogue as CSV (admin)",
            auth: true,
            params: &[],
            body: None,
            ok: (200, csv.clone()),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/registry/import",
            id: "importRegistry",
            tag: "registry",
            summary: "Import the catalogue as CSV, all or nothing (admin)",
            auth: true,
            params: &[],
            body: csv.clone(),
            ok: (200, schema(s::<registry::ImportReport>)),
            errors: &[400, 401, 403, 413, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/registry/whatif",
            id: "whatIf",
            tag: "registry",
            summary: "Open whistles and last month's share a proposed change would re-route (admin)",
            auth: true,
            params: &[],
            body: schema(s::<registry::WhatIfRequest>),
            ok: (200, schema(s::<registry::WhatIfReport>)),
            errors: ACTION,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/districts",
            id: "districts",
            tag: "registry",
            summary: "The districts and functional zones with their departments",
            auth: true,
            params: &[],
            body: None,
            ok: (200, schema(s::<registry::DistrictList>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/sla/summary",
            id: "slaSummary",
            tag: "sla",
            summary: "Per district and department: counts, MTTA, MTTR, breach rate, overdue now",
            auth: true,
            params: &[
                ("district", In::Query, "A 6-digit district code; the account's scope when absent."),
                ("window_hours", In::Query, "How far back, in hours."),
            ],
            body: None,
            ok: (200, schema(s::<api::SlaSummary>)),
            errors: READ,
            idempotent: false,
        },
        ledger_list(
            "/api/v1/whistles",
            "listWhistles",
            "The ledger's whistles, filtered, searched and paged",
            schema(s::<api::LedgerPage>),
        ),
        ledger_list(
            "/api/v1/cases",
            "listCases",
            "The ledger's cases of every kind (`kind` filters)",
            schema(s::<api::LedgerPage>),
        ),
        ledger_list(
            "/api/v1/whistles/export.csv",
            "exportWhistlesCsv",
            "The list as CSV (UTF-8 with BOM), streamed",
            csv.clone(),
        ),
        ledger_list("/api/v1/whistles/export.xlsx", "exportWhistlesXlsx", "The list as an XLSX workbook", xlsx.clone()),
        Op {
            method: "get",
            path: "/api/v1/reports/monthly",
            id: "monthlyReport",
            tag: "ledger",
            summary: "A district's month by department and town, with the trend; `format=xlsx` for the workbook",
            auth: true,
            params: &[
                ("district", In::Query, "A 6-digit district code (required)."),
                ("month", In::Query, "`YYYY-MM`, China time (required)."),
                ("format", In::Query, "`json` (default) or `xlsx`."),
            ],
            body: None,
            ok: (200, schema(s::<api::MonthlyReport>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/figures",
            id: "outcomeFigures",
            tag: "ledger",
            summary: "Outcome figures of the cases begun in a period: procedures, handling time, repeated inspections, \
                      reopens, confirmations (docs/figures.md); 422 invalid_period or period_too_large",
            auth: true,
            params: &[
                (
                    "district",
                    In::Query,
                    "A 6-digit district code; a district's account gets (and may ask for) only its own; the city when \
                     absent.",
                ),
                ("from", In::Query, "RFC 3339 or a date (China time); `to` minus 30 days when absent."),
                ("to", In::Query, "Exclusive; RFC 3339 or a date; now when absent. At most 366 days after `from`."),
            ],
            body: None,
            ok: (200, schema(s::<api::FiguresReport>)),
            errors: &[400, 401, 403, 404, 422, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/reports/overview",
            id: "overviewReport",
            tag: "ledger",
            summary: "The charts' figures over a period in the account's scope: per district, per day, MTTA / MTTR \
                      histograms, top items, slowest departments",
            auth: true,
            params: &[
                ("district", In::Query, "A 6-digit district code; every district of the account's scope when absent."),
                (
                    "from",
                    In::Query,
                    "Raised at or after (RFC 3339, or a date in China time); 30 days before `to` when absent.",
                ),
                (
                    "to",
                    In::Query,
                    "Raised before; the end of today (China time) when absent. At most 366 days after `from`.",
                ),
            ],
            body: None,
            ok: (200, schema(s::<api::Overview>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/rosters",
            id: "rosters",
            tag: "notify",
            summary: "Duty rosters by unit (admin; a command centre: its district's)",
            auth: true,
            params: &[("district", In::Query, "Only this district's units (a command centre: its own).")],
            body: None,
            ok: (200, schema(s::<notify::RosterList>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/rosters/{unit}",
            id: "roster",
            tag: "notify",
            summary: "One unit's roster: people, weekly shifts, overrides, roles, robots",
            auth: true,
            params: unit,
            body: None,
            ok: (200, schema(s::<notify::Roster>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "put",
            path: "/api/v1/rosters/{unit}",
            id: "replaceRoster",
            tag: "notify",
            summary: "Replace a unit's roster (admin; a command centre: its district's units); 400 invalid_field names the field",
            auth: true,
            params: unit,
            body: schema(s::<notify::Roster>),
            ok: (200, schema(s::<notify::Roster>)),
            errors: &[400, 401, 403, 413, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/rosters/{unit}/on-duty",
            id: "onDuty",
            tag: "notify",
            summary: "Who the unit's duty officer and roles are at a moment (Asia/Shanghai rota)",
            auth: true,
            params: &[
                ("unit", In::Path, "A department (500103-EE), command centre (500103-CC) or town (500103001) code."),
                ("at", In::Query, "An RFC 3339 moment; now when absent."),
            ],
            body: None,
            ok: (200, schema(s::<notify::OnDuty>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/notify/dead-letters",
            id: "notifyDeadLetters",
            tag: "notify",
            summary: "Notifications given up on or with nobody to address, newest first (admin; a command centre: its district's)",
            auth: true,
            params: &[
                ("district", In::Query, "Only this district's units (a command centre: its own)."),
                ("limit", In::Query, "At most this many, 1 to 500 (100)."),
            ],
            body: None,
            ok: (200, schema(s::<notify::NotificationList>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/webhooks",
            id: "createWebhook",
            tag: "webhooks",
            summary: "Subscribe a URL to case events (admin: any district or all; a command centre: its own district); 201 with the signing secret, shown once; 400 target_not_allowed for a loopback or private receiver; 409 webhook_limit_reached",
            auth: true,
            params: &[],
            body: schema(s::<notify::WebhookRequest>),
            ok: (201, schema(s::<notify::WebhookCreated>)),
            errors: &[400, 401, 403, 409, 413, 429, 503],
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/webhooks",
            id: "webhooks",
            tag: "webhooks",
            summary: "Webhook subscriptions the caller administers, oldest first (admin: all; a command centre: its district's)",
            auth: true,
            params: &[("district", In::Query, "Only this district's subscriptions (a command centre: its own).")],
            body: None,
            ok: (200, schema(s::<notify::WebhookList>)),
            errors: BASE,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/webhooks/{id}",
            id: "webhook",
            tag: "webhooks",
            summary: "One webhook subscription (without its secret)",
            auth: true,
            params: webhook_id,
            body: None,
            ok: (200, schema(s::<notify::Webhook>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "delete",
            path: "/api/v1/webhooks/{id}",
            id: "deleteWebhook",
            tag: "webhooks",
            summary: "Unsubscribe: the subscription, its pending deliveries and its delivery log are deleted (204)",
            auth: true,
            params: webhook_id,
            body: None,
            ok: (204, None),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "post",
            path: "/api/v1/webhooks/{id}/resume",
            id: "resumeWebhook",
            tag: "webhooks",
            summary: "Make a paused subscription active again (it hears events from now on)",
            auth: true,
            params: webhook_id,
            body: None,
            ok: (200, schema(s::<notify::Webhook>)),
            errors: READ,
            idempotent: false,
        },
        Op {
            method: "get",
            path: "/api/v1/webhooks/{id}/deliveries",
            id: "webhookDeliveries",
            tag: "webhooks",
            summary: "A subscription's deliveries, newest first, each with its attempts (time, status code, error)",
            auth: true,
            params: &[
                ("id", In::Path, "The subscription id (UUID)."),
                ("limit", In::Query, "At most this many, 1 to 500 (100)."),
            ],
            body: None,
            ok: (200, schema(s::<notify::WebhookDeliveryList>)),
            errors: READ,
            idempotent: false,
        },
    ];
    ops.extend(open311_ops());
    ops
}

/// Open311 GeoReport v2 (docs/open311.md): the spec's own conventions — a `.json` or `.xml`
/// suffix, form-encoded posts with an `api_key`, errors as `[{"code", "description"}]`.
fn open311_ops() -> Vec<Op> {
    const JURISDICTION: (&str, In, &str) =
        ("jurisdiction_id", In::Query, "A district code (e.g. `500103`); optional: the whole city is served.");
    let service = json!({
        "type": "object",
        "required": ["service_code", "service_name", "metadata", "type"],
        "properties": {
            "service_code": {"type": "string", "description": "The registry item's code, e.g. CQ-ENV-001."},
            "service_name": {"type": "string"},
            "description": {"type": "string"},
            "metadata": {"type": "boolean", "const": false},
            "type": {"type": "string", "const": "realtime"},
            "keywords": {"type": "string"},
            "group": {"type": "string", "description": "The item's registry category."}
        }
    });
    let request = json!({
        "type": "object",
        "required": ["service_request_id", "status", "whistle_status"],
        "properties": {
            "service_request_id": {"type": "string", "format": "uuid", "description": "The whistle's id."},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "whistle_status": {"type": "string", "description": "The whistle's own status (raised … resolved, rejected)."},
            "status_notes": {"type": ["string", "null"]},
            "service_name": {"type": ["string", "null"]},
            "service_code": {"type": "string"},
            "description": {"type": "string"},
            "agency_responsible": {"type": ["string", "null"]},
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "expected_datetime": {"type": ["string", "null"], "format": "date-time"},
            "address": {"type": ["string", "null"]},
            "lat": {"type": "number"},
            "long": {"type": "number"},
            "media_url": {"type": ["string", "null"]},
            "district": {"type": "string"},
            "town": {"type": ["string", "null"]}
        }
    });
    let list = |item: &Value| json!({"type": "array", "items": item});
    let created = json!({"type": "array", "items": {"type": "object", "required": ["service_request_id"], "properties": {
        "service_request_id": {"type": "string", "format": "uuid"},
        "service_notice": {"type": "string"},
        "account_id": {"type": "null"}
    }}});
    let form = json!({
        "type": "object",
        "contentMediaType": "application/x-www-form-urlencoded",
        "required": ["api_key", "service_code", "lat", "long", "description"],
        "properties": {
            "api_key": {"type": "string"},
            "service_code": {"type": "string"},
            "jurisdiction_id": {"type": "string", "description": "A district code; must be the point's district."},
            "lat": {"type": "number", "description": "Inside Chongqing; WGS-84 unless `datum` says otherwise."},
            "long": {"type": "number"},
            "datum": {"type": "string", "enum": ["wgs84", "gcj02"], "description": "Whistle's extension: the datum of lat/long."},
            "address_string": {"type": "string"},
            "description": {"type": "string", "maxLength": 2000},
            "media_url": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        }
    });
    let services_params: &'static [(&str, In, &str)] =
        &[JURISDICTION, ("locale", In::Query, "`en` for English names; zh-CN otherwise (or by Accept-Language).")];
    let list_params: &'static [(&str, In, &str)] = &[
        JURISDICTION,
        ("service_request_id", In::Query, "Ids, comma-separated (at most 100); overrides the other filters."),
        ("service_code", In::Query, "Service codes, comma-separated."),
        ("start_date", In::Query, "W3C date-time; with end_date at most 90 days apart (the last 90 by default)."),
        ("end_date", In::Query, "W3C date-time."),
        ("status", In::Query, "open | closed (comma-separated)."),
    ];
    let mut ops = Vec::new();
    for ext in ["json", "xml"] {
        let (services, requests) = if ext == "json" {
            ("/open311/v2/services.json", "/open311/v2/requests.json")
        } else {
            ("/open311/v2/services.xml", "/open311/v2/requests.xml")
        };
        ops.push(Op {
            method: "get",
            path: services,
            id: if ext == "json" { "open311ServicesJson" } else { "open311ServicesXml" },
            tag: "open311",
            summary: "GeoReport v2: the services a citizen can report (the registry's items in citizen-visible categories)",
            auth: false,
            params: services_params,
            body: None,
            ok: (200, Some(list(&service))),
            errors: &[400, 429],
            idempotent: false,
        });
        ops.push(Op {
            method: "get",
            path: requests,
            id: if ext == "json" { "open311RequestsJson" } else { "open311RequestsXml" },
            tag: "open311",
            summary: "GeoReport v2: service requests made through Open311, newest first (at most 200)",
            auth: false,
            params: list_params,
            body: None,
            ok: (200, Some(list(&request))),
            errors: &[400, 429, 503],
            idempotent: false,
        });
        ops.push(Op {
            method: "post",
            path: requests,
            id: if ext == "json" { "open311CreateRequestJson" } else { "open311CreateRequestXml" },
            tag: "open311",
            summary: "GeoReport v2: report a problem (api_key); a whistle on behalf of the district's command centre, \
                      routed by location to the town",
            auth: false,
            params: &[],
            body: Some(form.clone()),
            ok: (201, Some(created.clone())),
            errors: &[400, 403, 413, 429, 503],
            idempotent: false,
        });
    }
    ops.push(Op {
        method: "get",
        path: "/open311/v2/services/{file}",
        id: "open311ServiceDefinition",
        tag: "open311",
        summary: "GeoReport v2: a service's definition (`{service_code}.json` or `.xml`); no attributes",
        auth: false,
        params: &[("file", In::Path, "`{service_code}.json` or `{service_code}.xml`."), JURISDICTION],
        body: None,
        ok: (
            200,
            Some(json!({"type": "object", "required": ["service_code", "attributes"], "properties": {
                "service_code": {"type": "string"}, "attributes": {"type": "array", "maxItems": 0}
            }})),
        ),
        errors: &[400, 404, 429],
        idempotent: false,
    });
    ops.push(Op {
        method: "get",
        path: "/open311/v2/requests/{file}",
        id: "open311Request",
        tag: "open311",
        summary: "GeoReport v2: one service request (`{id}.json` or `.xml`), its open/closed status and Whistle's own",
        auth: false,
        params: &[("file", In::Path, "`{service_request_id}.json` or `.xml`."), JURISDICTION],
        body: None,
        ok: (200, Some(list(&request))),
        errors: &[400, 404, 429, 503],
        idempotent: false,
    });
    ops
}

/// Every (method, path) the document describes, e.g. `("post", "/api/v1/whistles")`.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    let mut g = generator();
    ops(&mut g).into_iter().map(|op| (op.method, op.path)).collect()
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.meta_schema = None;
        })
        .into_generator()
}

fn media(schema: &Value) -> Value {
    // A body taken in several media types: `{"x-media": {type: schema, ...}}`.
    if let Some(Value::Object(kinds)) = schema.get("x-media") {
        return Value::Object(kinds.iter().map(|(k, v)| (k.clone(), json!({"schema": v}))).collect());
    }
    let kind = schema.get("contentMediaType").and_then(Value::as_str).unwrap_or("application/json");
    let mut schema = schema.clone();
    // A multipart body's schema describes its parts; the media type is the content's key.
    if kind == "multipart/form-data"
        && let Some(object) = schema.as_object_mut()
    {
        object.remove("contentMediaType");
    }
    let mut content = Map::new();
    content.insert(kind.to_owned(), json!({"schema": schema}));
    Value::Object(content)
}

/// The whole document.
pub fn document() -> Value {
    let mut g = generator();
    let ops = ops(&mut g);
    let mut paths: Map<String, Value> = Map::new();
    for op in ops {
        let mut responses = Map::new();
        let (status, body) = &op.ok;
        let mut ok = json!({"description": "success"});
        if let Some(body) = body {
            ok["content"] = media(body);
        }
        responses.insert(status.to_string(), ok);
        // Open311's errors are GeoReport's `[{"code", "description"}]`, not the API's.
        // A 429 comes from the rate limit in front of every route, in the API's format.
        for e in op.errors {
            let prefix = if op.path.starts_with("/open311/") && *e != 429 { "O" } else { "E" };
            responses.insert(e.to_string(), json!({"$ref": format!("#/components/responses/{prefix}{e}")}));
        }
        let mut params: Vec<Value> = op
            .params
            .iter()
            .map(|(name, at, description)| {
                let (at, required) = match at {
                    In::Path => ("path", true),
                    In::Query => ("query", false),
                };
                json!({"name": name, "in": at, "required": required, "description": description, "schema": {"type": "string"}})
            })
            .collect();
        if op.idempotent {
            params.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "A retry with the same key takes effect once (per account).",
                "schema": {"type": "string", "maxLength": 128}
            }));
        }
        let mut operation = json!({
            "operationId": op.id,
            "tags": [op.tag],
            "summary": op.summary,
            "responses": responses,
        });
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if let Some(body) = &op.body {
            operation["requestBody"] = json!({"required": true, "content": media(body)});
        }
        operation["security"] = if op.auth { json!([{"bearer": []}]) } else { json!([]) };
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    let error = g.subschema_for::<api::ErrorBody>().to_value();
    let schemas = g.take_definitions(true);
    let mut responses: Map<String, Value> = [400u16, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503]
        .into_iter()
        .map(|e| {
            (format!("E{e}"), json!({"description": describe(e), "content": {"application/json": {"schema": error}}}))
        })
        .collect();
    let georeport_error = json!({"type": "array", "items": {"type": "object", "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}});
    for e in [400u16, 403, 404, 413, 503] {
        responses.insert(
            format!("O{e}"),
            json!({"description": format!("GeoReport v2 error {e}, its description says why"), "content": {
                "application/json": {"schema": georeport_error},
                "text/xml": {"schema": {"type": "string", "description": "<errors><error><code/><description/></error></errors>"}}
            }}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Whistle API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Real-time dispatch for grassroots administrative law enforcement (吹哨报到). \
                Every error is {\"error\": {\"code\", \"message\"}}. The live boards are a WebSocket at /ws \
                (schemas/json/ws-*.schema.json), not part of this document.",
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "auth"}, {"name": "accounts"}, {"name": "whistles"}, {"name": "assist"}, {"name": "registry"},
            {"name": "sla"}, {"name": "ledger"}, {"name": "notify"}, {"name": "webhooks"}, {"name": "cases"},
            {"name": "attachments"}, {"name": "supervision"}, {"name": "open311"},
            {"name": "meta"}
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}
