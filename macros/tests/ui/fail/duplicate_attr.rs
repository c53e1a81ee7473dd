use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(audit, permissions(read = "a.read", write = "a.write"))]
#[rookery(audit)]
pub struct Project {
    #[rookery(max_len = 10, max_len = 20)]
    pub name: String,
}

fn main() {}
