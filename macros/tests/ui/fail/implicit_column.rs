use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    pub name: String,
    pub created_at: String,
    #[rookery(column = "tenant_id")]
    pub owner: String,
}

fn main() {}
