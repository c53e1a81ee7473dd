use rookery::{TenantModel, UserId};

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Task {
    #[rookery(on_delete = "set_null")]
    pub assignee: Option<UserId>,
    #[rookery(on_delete = "set_default")]
    pub helper: Option<UserId>,
    #[rookery(on_delete = "delete")]
    pub reviewer: Option<UserId>,
}

fn main() {}
