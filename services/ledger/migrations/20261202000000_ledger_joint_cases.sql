-- A department's list reads the cases it leads and, separately, the joint cases it assists.
-- Few cases are joint: this partial index keeps the second branch from scanning every case in
-- raise order (the planner cannot tell from `assisting @> …` alone how rare a match is).
CREATE INDEX ledger_cases_joint_raised ON ledger_cases (raised_at DESC, id DESC) WHERE assisting <> '{}';
CREATE INDEX ledger_cases_joint_updated ON ledger_cases (updated_at DESC, id DESC) WHERE assisting <> '{}';
