use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    #[rookery(text)]
    pub count: i32,
    #[rookery(max_len = 10)]
    pub flag: bool,
    #[rookery(on_delete = "cascade")]
    pub name: String,
}

fn main() {}
