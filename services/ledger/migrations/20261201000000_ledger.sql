-- The ledger: one row per case, its view as JSONB plus the columns the list, exports and reports
-- filter, sort and count on. Rows are derived from the view (whistle_ledger::record), so
-- rebuilding from the case topic gives the same rows.

-- Free-text search over description and address: a trigram index accelerates `ILIKE '%q%'`.
-- Trigrams need a ctype in which CJK characters are alphanumeric (C.UTF-8, zh_CN.UTF-8; not
-- plain `C`); without that the index does not help, the ILIKE answers stay correct
-- (docs/ledger.md).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE ledger_cases (
    id              uuid PRIMARY KEY,
    -- `whistle`, or the case's own `kind` once the view carries one (town cases).
    kind            text        NOT NULL,
    status          text        NOT NULL,
    district        text        NOT NULL,
    town            text        NOT NULL,
    -- The lead department, once routed.
    department      text,
    assisting       text[]      NOT NULL DEFAULT '{}',
    item            text        NOT NULL,
    -- The holder's authority the router found (statutory, empowered, delegated, department).
    authority       text,
    raised_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    dispatched_at   timestamptz,
    acknowledged_at timestamptz,
    arrived_at      timestamptz,
    resolved_at     timestamptz,
    -- When the case reached its present terminal status (resolved or rejected); null while open.
    closed_at       timestamptz,
    -- Open and past a deadline now.
    overdue         boolean     NOT NULL,
    breaches        integer     NOT NULL,
    breached        boolean     NOT NULL,
    -- Null until the stage is either done or breached.
    ack_on_time     boolean,
    arrive_on_time  boolean,
    -- Times a closed case was opened again.
    reopens         integer     NOT NULL,
    reopened        boolean     NOT NULL,
    -- Changes of owner after the first dispatch (transfers, re-routes of returned cases).
    reroutes        integer     NOT NULL,
    rejected        boolean     NOT NULL,
    steps           integer     NOT NULL,
    -- Description and address, for `q`.
    search_text     text        NOT NULL,
    view            jsonb       NOT NULL
);

CREATE INDEX ledger_cases_raised ON ledger_cases (raised_at DESC, id DESC);
CREATE INDEX ledger_cases_updated ON ledger_cases (updated_at DESC, id DESC);
CREATE INDEX ledger_cases_district_raised ON ledger_cases (district, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_town_raised ON ledger_cases (town, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_department_raised ON ledger_cases (department, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_status_raised ON ledger_cases (status, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_item_raised ON ledger_cases (item, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_resolved ON ledger_cases (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX ledger_cases_overdue ON ledger_cases (raised_at DESC, id DESC) WHERE overdue;
CREATE INDEX ledger_cases_breached ON ledger_cases (raised_at DESC, id DESC) WHERE breached;
CREATE INDEX ledger_cases_reopened ON ledger_cases (raised_at DESC, id DESC) WHERE reopened;
CREATE INDEX ledger_cases_assisting ON ledger_cases USING gin (assisting);
CREATE INDEX ledger_cases_search ON ledger_cases USING gin (search_text gin_trgm_ops);
