use rookery::{TenantModel, UserId};

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Task {
    #[rookery(on_delete = "set_null")]
    pub owner: UserId,
}

fn main() {}
