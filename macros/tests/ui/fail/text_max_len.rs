use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    #[rookery(text, max_len = 100)]
    pub description: String,
}

fn main() {}
