-- The case events the ledger applied, beside the view they made: the outcome figures
-- (`GET /api/v1/figures`, whistle_case::figures) are counted from events, not from views. Written
-- in the same transaction as the case's row (LedgerStore::apply), once per event id; an event the
-- case rules refused is in neither. A ledger that existed before this table has no events for its
-- earlier cases until it is rebuilt from the case topic (`cargo xtask rebuild-ledger --reset`).
CREATE TABLE ledger_case_events (
    id      uuid        PRIMARY KEY,
    case_id uuid        NOT NULL REFERENCES ledger_cases (id) ON DELETE CASCADE,
    time    timestamptz NOT NULL,
    -- The CloudEvent as it came off the topic (`whistle_schemas::events::CaseEvent`).
    event   jsonb       NOT NULL
);

-- One district's cases' events: the cases come from ledger_cases_district_raised (or
-- ledger_cases_raised for the city), their events from this index, already in time order per case.
CREATE INDEX ledger_case_events_case_time ON ledger_case_events (case_id, time, id);
