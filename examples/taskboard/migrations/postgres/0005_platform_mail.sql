-- Mail (`rookery::mail`): every message the app sends, rendered and
-- queued in the transaction of the write that asks for it, sent by a job.
-- With no SMTP settings a message stays here as the outbox (`<app> mail
-- list`); a message sent over SMTP keeps its envelope and subject but not
-- its body, which may hold a token. The tenant policy confines the serving
-- role; not forced, so the owner's functions (`migrate` installs them: the
-- operator's list, pruning) see every tenant's mail.
CREATE TABLE rookery_mail (
    tenant_id    uuid        NOT NULL CONSTRAINT rookery_mail_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    template     text        NOT NULL,
    to_address   text        NOT NULL,
    from_address text        NOT NULL,
    subject      text        NOT NULL,
    text_body    text,
    html_body    text,
    state        text        NOT NULL DEFAULT 'queued',
    last_error   text,
    created_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    CONSTRAINT rookery_mail_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_mail_state_check CHECK (state IN ('queued', 'sent', 'outbox', 'failed'))
);
CREATE INDEX rookery_mail_created_at_idx ON rookery_mail (created_at);
ALTER TABLE rookery_mail ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rookery_mail
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
