use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(table = "projects")]
pub struct Project {
    pub name: String,
}

#[derive(TenantModel)]
#[rookery(permissions(read = "tasks.read", delete = "tasks.delete"))]
pub struct Task {
    pub name: String,
}

fn main() {}
