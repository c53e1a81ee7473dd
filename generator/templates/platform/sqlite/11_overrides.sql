-- The platform operator's per-tenant feature overrides, beside the plan
-- (`PUT /operator/tenants/{slug}/features/{feature}`, `<app> tenant
-- feature`): a JSON object of booleans, `{"sso": true, "webhooks": false}`.
-- A feature named here is on or off for the tenant whatever its plan says;
-- one not named follows the plan.
ALTER TABLE tenants ADD COLUMN feature_overrides TEXT NOT NULL DEFAULT '{}';
