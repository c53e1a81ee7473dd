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
    #[rookery(min = 0, max = 1)]
    pub on: bool,
    #[rookery(sortable)]
    pub rank: Option<i32>,
}

fn main() {}
