use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project<T> {
    pub name: T,
}

fn main() {}
