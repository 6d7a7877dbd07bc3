-- The district of each case (from whistle.raised or case.registered), so a later event of the
-- case reaches the subscriptions of its district.
CREATE TABLE case_districts (
    whistle     uuid PRIMARY KEY,
    district    text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Outbound webhook subscriptions. `district` NULL: every district (an administrator's). The
-- secret is kept as given to the subscriber (it signs every body, so it must be readable).
CREATE TABLE webhooks (
    id            uuid PRIMARY KEY,
    url           text NOT NULL,
    events        text[] NOT NULL,
    district      text,
    secret        text NOT NULL,
    state         text NOT NULL CHECK (state IN ('active', 'paused')),
    failing_since timestamptz,
    paused_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL
);
CREATE INDEX webhooks_district ON webhooks (district);

-- One case event for one subscription, by delivery id (sha256 of event id and subscription
-- id): a replayed event records nothing twice. `body` is the event as it was on the case topic,
-- the bytes that are signed. `pending` ones are leased by a worker; `delivered` and `dead` are
-- final, and pruned beyond `webhooks.kept_deliveries` per subscription.
CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    webhook         uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    whistle         uuid NOT NULL,
    body            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook, created_at DESC);

-- Every attempt of a delivery: its time, the receiver's status or the error.
CREATE TABLE webhook_attempts (
    delivery    text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      integer,
    error       text,
    duration_ms bigint NOT NULL,
    PRIMARY KEY (delivery, attempt)
);
