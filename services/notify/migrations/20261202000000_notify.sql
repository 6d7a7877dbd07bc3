-- Rosters: one per unit (department, command centre or town), the wire JSON as given.
CREATE TABLE rosters (
    unit        text PRIMARY KEY,
    district    text NOT NULL,
    body        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);
CREATE INDEX rosters_district ON rosters (district);

-- The town that raised each case (from whistle.raised), so a rejection reaches it.
CREATE TABLE case_towns (
    whistle     uuid PRIMARY KEY,
    town        text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Every notification planned, by delivery id (sha256 of event id, recipient and channel):
-- a replayed event inserts nothing twice. `pending` ones are leased by a sender, `sent` is
-- final, `dead` is the dead-letter list (given up, or nobody to address).
CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    event_id        uuid NOT NULL,
    whistle         uuid NOT NULL,
    kind            text NOT NULL,
    channel         text NOT NULL,
    unit            text NOT NULL,
    person          text,
    address         text NOT NULL,
    mention_phone   text,
    mention_wecom   text,
    subject         text NOT NULL,
    body            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    leased_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON deliveries (created_at DESC) WHERE state = 'dead';
CREATE INDEX deliveries_whistle ON deliveries (whistle);
