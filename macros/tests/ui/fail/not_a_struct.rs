use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub enum Project {
    A,
}

fn main() {}
