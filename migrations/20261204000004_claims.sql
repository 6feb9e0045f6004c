-- Issue 18: what a sign-in asked for (resources, the claims request, acr) and how it
-- happened (amr, a per-sign-in claims override), as JSON, kept with its grant so a
-- refresh issues the same; and on access tokens (with their audience) so
-- introspection and userinfo answer as the token was issued. NULL when there is
-- nothing beyond the defaults. Authorization codes keep theirs in auth_codes.claims.
ALTER TABLE grants ADD COLUMN extras TEXT;
ALTER TABLE tokens ADD COLUMN extras TEXT;

-- The address and phone scopes of OpenID Connect Core §5.4, for existing data
-- directories too (a new one gets them with the other default scopes).
INSERT OR IGNORE INTO scopes (name, description, claims, position)
    VALUES ('address', 'Your postal address', '["address"]', 100),
           ('phone', 'Your phone number', '["phone_number","phone_number_verified"]', 101);
