-- The list's indexes for combined filters, and the first breach as a column (issue M: a list page
-- at p99 <= 50 ms over 1,000,000 cases; docs/performance.md).

-- Status and item inside a district, in raise order: the two filters a command centre combines
-- most (the planner otherwise walks the district's whole raise order and filters, 28 ms at the
-- median for a district's resolved cases of one item).
CREATE INDEX ledger_cases_district_status_raised ON ledger_cases (district, status, raised_at DESC, id DESC);
CREATE INDEX ledger_cases_district_item_raised ON ledger_cases (district, item, raised_at DESC, id DESC);

-- The first breach's time, as a column (whistle_ledger::record): the overview's breaches per day
-- read it instead of searching every breached case's timeline in its view. Rows written before
-- this migration get it from their view here.
ALTER TABLE ledger_cases ADD COLUMN first_breached_at timestamptz;
UPDATE ledger_cases
   SET first_breached_at = (jsonb_path_query_first(view, '$.timeline[*] ? (@.type == "sla.breached").time') #>> '{}')::timestamptz
 WHERE breached;
CREATE INDEX ledger_cases_first_breached ON ledger_cases (first_breached_at) WHERE first_breached_at IS NOT NULL;
