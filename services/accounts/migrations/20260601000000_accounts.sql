-- The account store: accounts administered through the API, and the audit of every change.

CREATE TABLE accounts (
    username            text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    -- An argon2id PHC string; the password itself is never stored.
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role                text NOT NULL CHECK (role IN ('town', 'department', 'command_centre', 'manager', 'admin')),
    town                text,
    department          text,
    district            text,
    enabled             boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    -- Each role carries exactly the scope it needs (whistle_auth::Role).
    CONSTRAINT accounts_scope CHECK (
        (role = 'town' AND town IS NOT NULL AND department IS NULL AND district IS NOT NULL)
        OR (role = 'department' AND town IS NULL AND department IS NOT NULL AND district IS NOT NULL)
        OR (role = 'command_centre' AND town IS NULL AND department IS NULL AND district IS NOT NULL)
        OR (role = 'manager' AND town IS NULL AND department IS NULL)
        OR (role = 'admin' AND town IS NULL AND department IS NULL AND district IS NULL)
    )
);

CREATE TABLE account_audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    -- Who made the change: the administrator, or the account itself (password_changed).
    actor      text NOT NULL,
    actor_role text NOT NULL,
    -- created | disabled | enabled | password_reset | role_assigned | password_changed
    action     text NOT NULL,
    -- The account changed.
    username   text NOT NULL,
    -- What changed, e.g. {"from": {"role": ...}, "to": {"role": ...}}; never a password or hash.
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX account_audit_by_username ON account_audit (username, id);

-- The audit is append-only: no row is ever changed or removed through this database user.
CREATE FUNCTION account_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account_audit is append-only';
END;
$$;

CREATE TRIGGER account_audit_append_only
    BEFORE UPDATE OR DELETE ON account_audit
    FOR EACH ROW EXECUTE FUNCTION account_audit_append_only();
