-- The supervisor role (law enforcement supervision): scoped like a manager, to the city or one district.

ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('town', 'department', 'command_centre', 'manager', 'supervisor', 'admin'));

ALTER TABLE accounts DROP CONSTRAINT accounts_scope;
ALTER TABLE accounts ADD CONSTRAINT accounts_scope CHECK (
    (role = 'town' AND town IS NOT NULL AND department IS NULL AND district IS NOT NULL)
    OR (role = 'department' AND town IS NULL AND department IS NOT NULL AND district IS NOT NULL)
    OR (role = 'command_centre' AND town IS NULL AND department IS NULL AND district IS NOT NULL)
    OR (role IN ('manager', 'supervisor') AND town IS NULL AND department IS NULL)
    OR (role = 'admin' AND town IS NULL AND department IS NULL AND district IS NULL)
);
