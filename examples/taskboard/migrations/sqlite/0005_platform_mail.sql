-- Mail (`rookery::mail`): every message the app sends, rendered and
-- queued in the transaction of the write that asks for it, sent by a job.
-- With no SMTP settings a message stays here as the outbox (`<app> mail
-- list`); a message sent over SMTP keeps its envelope and subject but not
-- its body, which may hold a token.
CREATE TABLE rookery_mail (
    tenant_id    TEXT NOT NULL CONSTRAINT rookery_mail_tenant_id_fkey REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    template     TEXT NOT NULL,
    to_address   TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject      TEXT NOT NULL,
    text_body    TEXT,
    html_body    TEXT,
    state        TEXT NOT NULL DEFAULT 'queued',
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    sent_at      TEXT,
    CONSTRAINT rookery_mail_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT rookery_mail_state_check CHECK (state IN ('queued', 'sent', 'outbox', 'failed'))
);
CREATE INDEX rookery_mail_created_at_idx ON rookery_mail (created_at);
