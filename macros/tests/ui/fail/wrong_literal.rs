use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(table = projects, permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    #[rookery(max_len = "x")]
    pub name: String,
    #[rookery(min = "10")]
    pub count: i32,
    #[rookery(indexed = true)]
    pub code: String,
}

fn main() {}
