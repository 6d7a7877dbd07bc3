-- Evidence attachments (schema `attachments` of intake's database): one row per stored file,
-- and the cases that reference it. The bytes are in the object store (attachments.store).

CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    -- Of the stored bytes (after the metadata was stripped), lower-case hex.
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'video/mp4')),
    size         bigint NOT NULL CHECK (size > 0),
    -- The account that uploaded it.
    uploader     text NOT NULL,
    -- The body it was uploaded for (a town, a department, a command centre `<district>-CC`):
    -- only that body's raises, cases and steps may reference it.
    body         text NOT NULL,
    -- The object's key in the store.
    object_key   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX attachments_by_body ON attachments (body, created_at);

-- Which cases reference an attachment: the readers of any of them may read it.
CREATE TABLE attachment_cases (
    attachment_id uuid NOT NULL REFERENCES attachments (id),
    case_id       uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (attachment_id, case_id)
);
