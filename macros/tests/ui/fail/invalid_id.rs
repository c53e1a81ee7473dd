use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(id = "serial", permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    pub name: String,
}

fn main() {}
